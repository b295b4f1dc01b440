"""Group keys by Redis Cluster hash slot and by the node serving them, for per-node batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from redis.cluster import RedisCluster
from redis.crc import key_slot


def keys_by_slot(keys: Iterable[str]) -> dict[int, list[str]]:
    """The keys grouped by hash slot (hash tags honoured), in first-seen order."""
    groups: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        groups[key_slot(key.encode())].append(key)
    return dict(groups)


def keys_by_node(cluster: RedisCluster, keys: Iterable[str]) -> dict[str, list[str]]:
    """The keys grouped by the name (``host:port``) of the primary serving their slot.

    Uses redis-py's slot table, refreshed by redis-py itself on MOVED; no network call.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for slot_keys in keys_by_slot(keys).values():
        groups[cluster.get_node_from_key(slot_keys[0]).name].extend(slot_keys)
    return dict(groups)


def per_slot(cluster: RedisCluster, command: str, keys: Sequence[str]) -> list[Any]:
    """Run ``command`` once per slot over its keys, in one pipeline: one round trip per node.

    Returns the replies in slot order (as ``keys_by_slot``).
    """
    pipeline = cluster.pipeline(transaction=False)
    for slot_keys in keys_by_slot(keys).values():
        pipeline.execute_command(command, *slot_keys)
    return pipeline.execute()
