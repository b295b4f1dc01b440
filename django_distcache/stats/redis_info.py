"""Redis's own figures (INFO) for every node of the cache, per node and summed."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from redis import Redis
from redis.exceptions import RedisError

from django_distcache.conf import get_settings
from django_distcache.redis.client import get_redis, node_client
from django_distcache.redis.routed import is_cluster

# INFO field -> name in a snapshot.
FIELDS = {
    "used_memory": "used_memory",
    "maxmemory": "maxmemory",
    "evicted_keys": "evicted_keys",
    "expired_keys": "expired_keys",
    "keyspace_hits": "keyspace_hits",
    "keyspace_misses": "keyspace_misses",
    "instantaneous_ops_per_sec": "ops_per_sec",  # Redis's own sample of the last moments
    "total_commands_processed": "commands_processed",  # rates over a window come from this
    "connected_clients": "connected_clients",
}


def node_clients() -> list[Redis]:
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


def node_name(client: Redis) -> str:
    """host:port/db of a client, without credentials."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def node_info(client: Redis) -> dict[str, Any]:
    """The snapshot fields of one node, or its error."""
    name = node_name(client)
    try:
        info = client.info()
    except RedisError as exc:
        return {"node": name, "available": False, "error": str(exc)}
    figures: dict[str, Any] = {"node": name, "available": True, "error": None}
    for field, label in FIELDS.items():
        figures[label] = int(info.get(field, 0) or 0)
    return figures


def summed(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of all available nodes added up; maxmemory 0 if any node is unlimited."""
    up = [node for node in nodes if node["available"]]
    total: dict[str, Any] = {label: sum(node[label] for node in up) for label in FIELDS.values()}
    if any(node["maxmemory"] == 0 for node in up):
        total["maxmemory"] = 0
    total["nodes"] = len(nodes)
    total["nodes_available"] = len(up)
    return total


def redis_figures() -> dict[str, Any]:
    """``{"available", "error", "nodes": [...], "total": {...}}`` for the cache's Redis."""
    try:
        clients = node_clients()
    except RedisError as exc:  # connecting may fail while building the client
        return {"available": False, "error": str(exc), "nodes": [], "total": summed([])}
    nodes = [node_info(client) for client in clients]
    available = bool(nodes) and nodes[0]["available"]
    error = next((node["error"] for node in nodes if not node["available"]), None)
    return {"available": available, "error": error, "nodes": nodes, "total": summed(nodes)}
