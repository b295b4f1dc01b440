"""Leases on missing entries in Redis: released or renewed by their holder's token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_distcache.conf import get_settings
from django_distcache.keys import lease_key
from django_distcache.redis import routed
from django_distcache.redis.client import get_redis, script


def lease_ms() -> int:
    """How long a lease lives without being renewed, in milliseconds."""
    return int(get_settings().LEASE_TIMEOUT * 1000)


def run_on_leases(name: str, head: list[Any], leases: Sequence[tuple[str, str]]) -> None:
    """Script ``name`` over the leases of (entry key, token) pairs (KEYS: the leases;
    ARGV: ``head``, then their tokens); per hash slot on a Redis Cluster."""
    client = get_redis()
    entries = [key for key, _token in leases]
    tokens = [token for _key, token in leases]
    if routed.is_cluster(client):
        routed.leases(client, script, name, head, entries, tokens)
    else:
        script(name)(keys=[lease_key(key) for key in entries], args=[*head, *tokens])
