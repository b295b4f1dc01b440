"""The near cache in front of the async read path: what ``front`` does, awaited.

Async reads fill the near cache the sync reads share, under the same rules: the mark
is taken before anything is read, the generations are known before the entry is
read, and a fill that crossed an invalidation applied meanwhile keeps nothing. Only
the reads are awaited; L1 itself is a few dict operations under its lock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asgiref.sync import sync_to_async

from django_distcache.outbox.keys import with_epoch
from django_distcache.reads import acluster
from django_distcache.reads.front import ABSENT, Freeze, decoded, fill
from django_distcache.reads.near import NOT_LIVE, NearCache, near_cache
from django_distcache.redis.areadpath import aread_values
from django_distcache.redis.errors import RedisError
from django_distcache.redis.readpath import read_values


async def aread_missed(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    fetch: Callable[[], Awaitable[Any]],
    *,
    decode: Callable[[bytes], Any],
    freeze: Freeze,
) -> Any:
    """``front.read_missed`` awaited: one GET, or ``await fetch()``; then fill L1."""
    cache = near_cache()
    mark = cache.mark()
    if mark == NOT_LIVE:
        return await fetch()
    started = time.monotonic()
    try:
        known = await _known_generations(cache, with_epoch(generation_keys), mark, started)
    except RedisError:
        return await fetch()
    if known is None:
        return await fetch()  # a generation not created yet: the read-through path makes it
    generations, known_until = known
    value = ABSENT
    if not cache.outdated(key):  # see front.read_missed
        try:
            (stored,) = await _mget([key])
        except RedisError:
            stored = None
        value = decoded(namespace, stored, [v for _name, v in generations], decode, started)
    if value is ABSENT:
        value = await fetch()
    fill(cache, key, value, freeze, generations, known_until, started, mark)
    return value


async def aread_many_missed(
    generation_keys: Sequence[str],
    keys: Sequence[str],
    fetch_many: Callable[[], Awaitable[dict[str, Any]]],
    *,
    freeze: Freeze,
) -> dict[str, Any]:
    """``front.read_many_missed`` awaited: ``await fetch_many()``, then kept in L1."""
    cache = near_cache()
    mark = cache.mark()
    if mark == NOT_LIVE:
        return await fetch_many()
    started = time.monotonic()
    try:
        known = await _known_generations(cache, with_epoch(generation_keys), mark, started)
    except RedisError:
        known = None
    values = await fetch_many()
    if known is not None:
        generations, known_until = known
        for key in keys:
            if key in values:
                fill(cache, key, values[key], freeze, generations, known_until, started, mark)
    return values


async def _known_generations(
    cache: NearCache, names: Sequence[str], mark: int, started: float
) -> tuple[tuple[tuple[str, bytes], ...], float] | None:
    missing = cache.missing_generations(names)
    values = dict(zip(missing, await _mget(missing), strict=True)) if missing else {}
    return cache.current_generations(names, mark, values, started)


async def _mget(names: list[str]) -> list[Any]:
    if acluster.on_cluster():
        # NOTE: no asyncio client of a cluster: the sync read, in a thread (see acluster).
        return await sync_to_async(read_values)(names)
    return await aread_values(names)
