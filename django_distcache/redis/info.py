"""INFO of every Redis server of the cache: each primary of a cluster, each LOCATION entry."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from redis import Redis

from django_distcache.conf import get_settings
from django_distcache.redis.client import get_redis, node_client
from django_distcache.redis.errors import RedisError
from django_distcache.redis.routed import is_cluster


def _servers() -> list[Redis]:
    """A client per Redis server of the cache alias (django-redis's LOCATION list; on a
    Redis Cluster, each primary as the cluster client knows them)."""
    app_client: Any = get_redis()
    if is_cluster(app_client):
        # NOTE: one INFO per primary; replicas hold copies, not more keys.
        return [app_client.get_redis_connection(node) for node in app_client.get_primaries()]
    backend_client = caches[get_settings().CACHE_ALIAS].client  # type: ignore[attr-defined]
    # NOTE: django-redis keeps one lazily connected client per LOCATION entry in these
    # private attributes; without them (another client class) only the primary is known.
    servers = getattr(backend_client, "_server", None)
    clients = getattr(backend_client, "_clients", None)
    if not servers or clients is None or len(clients) != len(servers):
        return [get_redis()]
    for index in range(len(servers)):
        if clients[index] is None:
            clients[index] = backend_client.connect(index)
    # The app's clients: short timeouts, and the primary behind the breaker.
    return [get_redis(), *(node_client(raw) for raw in clients[1:])]


def _name(client: Redis) -> str:
    """host:port/db of a client, without credentials."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def every_server_info() -> list[tuple[str, dict[str, Any] | RedisError]]:
    """(host:port/db, its INFO or the error that answered) of every server, the one
    holding the entries first. Raises RedisError if the servers cannot be listed (a
    cluster client connects when made)."""
    found: list[tuple[str, dict[str, Any] | RedisError]] = []
    for client in _servers():
        try:
            found.append((_name(client), dict(client.info())))
        except RedisError as error:
            found.append((_name(client), error))
    return found
