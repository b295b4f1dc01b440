"""Point the default cache at other Redis servers for a test, closing its connections after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches
from django.test import override_settings

from django_distcache.client import get_redis


def _disconnect() -> None:
    # The statistics flusher thread may hold a client of its own (get_redis() is
    # shared by all threads, django-redis's caches are per thread).
    clients = [get_redis(), *getattr(caches["default"].client, "_clients", [])]
    for redis_client in clients:
        if redis_client is not None:
            redis_client.connection_pool.disconnect()


@contextmanager
def cache_on(*urls: str) -> Iterator[None]:
    """The default cache on ``urls`` (django-redis: first the primary, then replicas)."""
    location = list(urls) if len(urls) > 1 else urls[0]
    caches_setting = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location}}
    with override_settings(CACHES=caches_setting):
        try:
            yield
        finally:
            _disconnect()
