"""Point the default cache at other Redis servers for a test, closing its connections after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import override_settings
from django_redis.pool import ConnectionFactory


def _forget_pools(urls: tuple[str, ...]) -> None:
    # django-redis keeps one pool per URL for the life of the process.
    for url in urls:
        pool = ConnectionFactory._pools.get(url)
        if pool is not None:
            pool.disconnect()


@contextmanager
def cache_on(*urls: str) -> Iterator[None]:
    """The default cache on ``urls`` (django-redis: first the primary, then replicas)."""
    location = list(urls) if len(urls) > 1 else urls[0]
    caches_setting = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location}}
    try:
        with override_settings(CACHES=caches_setting):
            yield
    finally:
        _forget_pools(urls)
