"""Counters kept in one Redis hash (the statistics): added to, read, dropped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_distcache.redis.client import get_redis


def add(key: str, amounts: Mapping[str, int | float]) -> None:
    """Add each amount to its field of hash ``key``: HINCRBY for whole numbers,
    HINCRBYFLOAT otherwise, pipelined (one round trip)."""
    pipe = get_redis().pipeline(transaction=False)
    for field, amount in amounts.items():
        if isinstance(amount, int):
            pipe.hincrby(key, field, amount)
        else:
            pipe.hincrbyfloat(key, field, amount)
    pipe.execute()


def read(key: str) -> dict[bytes, bytes]:
    """Every field of hash ``key``."""
    found: Any = get_redis().hgetall(key)
    return dict(found)


def drop(key: str) -> None:
    """Delete hash ``key``."""
    get_redis().delete(key)
