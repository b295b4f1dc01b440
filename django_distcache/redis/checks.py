"""System checks of Redis Cluster use, ids distcache.E030-E039."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register
from redis import Redis
from redis.exceptions import RedisError

from django_distcache.redis.cluster import is_cluster_cache

PROBE_TIMEOUT = 0.5
_CELERY_URLS = (
    ("broker_url", "broker", "distcache.E030"),
    ("result_backend", "result backend", "distcache.E031"),
)


def _address(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return None
    return parts.hostname.lower(), parts.port or 6379


def cluster_cache_addresses() -> set[tuple[str, int]]:
    """Host and port of every node named in the LOCATION of a Redis Cluster cache."""
    addresses: set[tuple[str, int]] = set()
    for params in getattr(settings, "CACHES", {}).values():
        if is_cluster_cache(params):
            location = params.get("LOCATION", "")
            urls = location.split(",") if isinstance(location, str) else location
            addresses.update(filter(None, (_address(url.strip()) for url in urls)))
    return addresses


def is_cluster_node(url: str) -> bool:
    """Whether the Redis at ``url`` runs in cluster mode (False if it cannot be asked)."""
    try:
        with Redis.from_url(
            url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
        ) as probe:
            return bool(probe.info("cluster").get("cluster_enabled"))
    except (RedisError, ValueError):
        return False


def _urls(value: Any) -> list[str]:
    """Celery's URL setting as a list: it may be a list or ';'-separated failover URLs."""
    if isinstance(value, str):
        return [url.strip() for url in value.split(";") if url.strip()]
    if isinstance(value, (list, tuple)):
        return [url for url in value if isinstance(url, str)]
    return []


def _celery_conf() -> Any:
    try:
        from celery import current_app
    except ImportError:
        return None
    return current_app.conf


@register(Tags.caches)
def check_celery_not_on_cluster(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[Error]:
    """Celery's Redis broker and result backend cannot use a Redis Cluster."""
    conf = _celery_conf()
    if conf is None:
        return []
    cluster_nodes = cluster_cache_addresses()
    errors = []
    for setting, what, check_id in _CELERY_URLS:
        for url in _urls(getattr(conf, setting, None)):
            address = _address(url)
            if address is None or not (address in cluster_nodes or is_cluster_node(url)):
                continue
            errors.append(
                Error(
                    f"Celery's {what} ({setting}) is a Redis Cluster node "
                    f"({address[0]}:{address[1]}): Celery's Redis transport and result "
                    "backend need one plain Redis; on a cluster, commands on keys of other "
                    "slots fail with MOVED and multi-key commands with CROSSSLOT.",
                    hint="Give Celery a Redis of its own (or RabbitMQ); the cache can stay on "
                    "the cluster.",
                    id=check_id,
                )
            )
    return errors
