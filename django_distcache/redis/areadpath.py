"""The async read path's round trips, on the asyncio client (``redis/aio.py``).

NOTE: each function returns the client's coroutine rather than awaiting it, so a hit
costs one plain call here and no coroutine frame of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from django_distcache.keys import lease_key, with_epoch
from django_distcache.redis.aio import get_async_redis
from django_distcache.redis.client import script
from django_distcache.redis.readpath import Policy, read_call, store_call


def aread_or_lease(
    generation_keys: Sequence[str], keys: Sequence[str], token: str, policy: Policy
) -> Awaitable[list[Any]]:
    """``readpath.read_or_lease`` awaited, on one Redis: [generations, r1, r2, ...]."""
    return get_async_redis().run_script(
        script("read"), *read_call(with_epoch(generation_keys), keys, token, policy)
    )


def arelease(leases: Sequence[tuple[str, str]]) -> Awaitable[Any]:
    """Give up (entry key, token) leases (``lua/release.lua``)."""
    leases_ = [lease_key(key) for key, _token in leases]
    tokens = [token for _key, token in leases]
    return get_async_redis().run_script(script("release"), leases_, tokens)


def adelete_entries(keys: Sequence[str]) -> Awaitable[Any]:
    """Delete ``keys`` (one DEL): entries that cannot be decoded."""
    return get_async_redis().execute("DEL", *keys)


def astore(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    load_seconds: float,
    policy: Policy,
) -> Awaitable[Any]:
    """``readpath.store`` awaited, on one Redis: how many were stored."""
    call = store_call(with_epoch(generation_keys), generations, items, load_seconds, policy)
    return get_async_redis().run_script(script("store"), *call)


def aread_values(names: Sequence[str]) -> Awaitable[list[Any]]:
    """MGET ``names`` in one round trip."""
    return get_async_redis().mget(names)


def acount_existing(keys: Sequence[str]) -> Awaitable[Any]:
    """How many of ``keys`` exist (one EXISTS)."""
    return get_async_redis().execute("EXISTS", *keys, idempotent=True)
