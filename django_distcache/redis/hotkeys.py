"""The hot-key sorted sets: counts added and trimmed, decay stamps, the hottest read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django_distcache.redis.client import get_redis


def add_counts(
    namespaces_key: str,
    namespaces: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    factors: Mapping[str, float],
    size: int,
) -> None:
    """Add ``counts`` (sorted set key -> member -> reads) to their sets, each first scaled
    by its decay factor (when below 1), and keep each set's ``size`` highest members;
    add ``namespaces`` to set ``namespaces_key``. One pipelined round trip."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.sadd(namespaces_key, *namespaces)
    for key, members in counts.items():
        if factors.get(key, 1.0) < 1.0:
            pipe.zunionstore(key, {key: factors[key]})
        for member, count in members.items():
            pipe.zincrby(key, count, member)
        pipe.zremrangebyrank(key, 0, -size - 1)
    pipe.execute()


def swap_stamps(stamp_keys: Sequence[str], now: float) -> list[Any]:
    """Set each of ``stamp_keys`` to ``now``; their previous values (GETSET, pipelined)."""
    pipe = get_redis().pipeline(transaction=False)
    for key in stamp_keys:
        pipe.getset(key, now)
    return list(pipe.execute())


def highest(key: str, limit: int) -> list[tuple[str, float]]:
    """The ``limit`` highest-scored members of sorted set ``key``, decoded, with scores."""
    answer: Any = get_redis().zrevrange(key, 0, limit - 1, withscores=True)
    return [(member.decode(), score) for member, score in answer]


def set_members(key: str) -> list[str]:
    """The members of set ``key``, decoded and sorted."""
    members: Any = get_redis().smembers(key)
    return sorted(raw.decode() for raw in members)
