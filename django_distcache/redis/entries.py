"""Cache entries in Redis outside the read scripts: looked at, checked, deleted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_distcache.keys import lease_key
from django_distcache.redis.client import get_redis


def read_entry(key: str) -> tuple[bytes | None, int, bool]:
    """(what is stored at ``key``, its TTL in ms (negative: none), whether its lease is
    held), in one pipelined round trip; writes nothing."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.get(key)
    pipe.pttl(key)
    pipe.exists(lease_key(key))
    stored, ttl_ms, leased = pipe.execute()
    return stored, ttl_ms, bool(leased)


def count_existing(keys: Sequence[str]) -> int:
    """How many of ``keys`` exist (one EXISTS)."""
    found: Any = get_redis().exists(*keys)
    return int(found)


def delete_entries(keys: Sequence[str]) -> None:
    """Delete ``keys`` (one DEL); their leases stay."""
    get_redis().delete(*keys)


def mark_for(keys: Sequence[str], ms: int) -> None:
    """Set each of ``keys`` to 1 for ``ms`` milliseconds (pipelined: one round trip)."""
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.set(key, 1, px=ms)
    pipe.execute()
