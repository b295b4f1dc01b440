"""Recent records kept in a Redis list, newest first, at most a given number."""

from __future__ import annotations

from typing import Any

from django_distcache.redis.client import get_redis


def push(key: str, item: str | bytes, keep: int) -> None:
    """Put ``item`` first in list ``key`` and keep the newest ``keep`` (one round trip)."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.lpush(key, item)
    pipe.ltrim(key, 0, keep - 1)
    pipe.execute()


def newest(key: str, limit: int) -> list[bytes]:
    """The first ``limit`` items of list ``key``."""
    found: Any = get_redis().lrange(key, 0, limit - 1)
    return list(found)
