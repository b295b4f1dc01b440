"""The outbox's state in Redis: acknowledged rows and the floor of deletion rounds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_distcache.redis.client import get_redis, script


def acknowledged(acked_key: str, members: Sequence[str]) -> list[Any]:
    """Whether each of ``members`` is in set ``acked_key`` (one SMISMEMBER)."""
    found: Any = get_redis().smismember(acked_key, list(members))
    return list(found)


def acknowledge(acked_key: str, members: Sequence[str]) -> None:
    """Add ``members`` to set ``acked_key`` (one SADD)."""
    get_redis().sadd(acked_key, *members)


def floor(floor_key: str, alias: str) -> int:
    """The deletion rounds of ``alias``'s outbox that Redis has seen (0 if none)."""
    found: Any = get_redis().hget(floor_key, alias)
    return int(found or 0)


def set_floor(floor_key: str, alias: str, rounds: int) -> None:
    """Set the deletion rounds of ``alias``'s outbox that Redis has seen."""
    get_redis().hset(floor_key, alias, rounds)


def drop_key(key: str) -> None:
    """Delete ``key`` (the epoch: it starts again at the clock)."""
    get_redis().delete(key)


def record_floor(
    floor_key: str, acked_key: str, alias: str, rounds: int, members: Sequence[str]
) -> None:
    """Raise ``alias``'s floor to ``rounds`` only if every one of ``members`` (the rows
    just deleted) is still acknowledged, and forget them (``lua/outbox_floor.lua``)."""
    script("outbox_floor")(keys=[floor_key, acked_key], args=[alias, rounds, *members])
