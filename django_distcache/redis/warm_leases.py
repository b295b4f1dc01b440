"""A warm run's leases: taken whatever the entries hold (``lua/warm_lease.lua``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_distcache.keys import lease_key
from django_distcache.redis import routed
from django_distcache.redis.client import get_redis, script


def take(
    generation_keys: Sequence[str], entries: Sequence[str], lease_ms: int, token: str
) -> bytes:
    """Take the leases of ``entries`` for ``lease_ms``; the current generations.

    NOTE: on a Redis Cluster two round trips (the generations, then the leases per slot,
    each to the nodes concerned in parallel); one on one Redis.
    """
    client = get_redis()
    head: list[Any] = [lease_ms, token]
    if routed.is_cluster(client):
        generations = routed.generations(client, script, generation_keys)
        routed.leases(client, script, "warm_lease", [0, generations, *head], entries)
        return generations
    leases = [lease_key(entry) for entry in entries]
    answer: bytes = script("warm_lease")(
        keys=[*generation_keys, *leases], args=[len(generation_keys), "", *head]
    )
    return answer
