"""Redis's own figures (INFO) for every node of the cache, per node and summed."""

from __future__ import annotations

from typing import Any

from django_distcache.redis.errors import RedisError
from django_distcache.redis.info import every_server_info

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


def node_info(name: str, info: dict[str, Any] | RedisError) -> dict[str, Any]:
    """The snapshot fields of one node, or its error."""
    if isinstance(info, RedisError):
        return {"node": name, "available": False, "error": str(info)}
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
        infos = every_server_info()
    except RedisError as exc:  # connecting may fail while building the client
        return {"available": False, "error": str(exc), "nodes": [], "total": summed([])}
    nodes = [node_info(name, info) for name, info in infos]
    available = bool(nodes) and nodes[0]["available"]
    error = next((node["error"] for node in nodes if not node["available"]), None)
    return {"available": available, "error": error, "nodes": nodes, "total": summed(nodes)}
