"""The near cache in front of the read-through path: L1 hit, then one GET, then a full read.

A near-cache hit builds nothing from JSON and sends nothing. An L1 miss whose
generations the process holds reads the entry alone (one GET: no generation keys,
as Redis Cluster needs); anything else takes the read-through path. What was read is
kept unless an invalidation touching it was applied since the read started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from django_distcache import stats
from django_distcache.outbox.keys import with_epoch
from django_distcache.reads import readthrough
from django_distcache.reads.near import NOT_LIVE, Entry, NearCache, near_cache
from django_distcache.reads.own_writes import touched_on_any
from django_distcache.redis import breaker, wire
from django_distcache.redis.client import get_redis

# freeze(value) -> (what L1 keeps, what each hit copies of it (falsy: nothing), its
# size in bytes, its time to live in seconds or None), or None to keep nothing.
# thaw(entry) -> a fresh value for one caller.
Freeze = Callable[[Any], "tuple[Any, Any, int, float | None] | None"]
Thaw = Callable[[Entry], Any]

ABSENT = object()
# What ``hit`` answers when L1 cannot serve the read.
MISSED: Any = object()


def read_keys(names: list[str]) -> list[Any]:
    """The values of ``names`` (None where absent): one MGET (on a Redis Cluster, one per
    slot, one request per node in parallel)."""
    breaker.check()
    return wire.mget(get_redis(), names)  # the client trips the breaker on a failure


def hit(namespace: str, generation_keys: Sequence[str], key: str, thaw: Thaw) -> Any:
    """``thaw`` of L1's entry at ``key``, or MISSED: L1 does not hold it, or a transaction
    open in this thread wrote under one of ``generation_keys`` or invalidated ``key``."""
    if touched_on_any(generation_keys, key):
        return MISSED
    entry = near_cache().lookup(key)
    if entry is None:
        return MISSED
    stats.record_near_hit(namespace, 0.0)
    return thaw(entry)


def read_missed(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    fetch: Callable[[], Any],
    *,
    decode: Callable[[bytes], Any],
    freeze: Freeze,
) -> Any:
    """``read`` after the near cache missed: one GET, or ``fetch()``; then fill L1.

    The generations are known (held, or read in one MGET) before the entry is read:
    read after it, they could be newer than it. A key whose entry L1 holds outdated, or
    saw invalidated lately, is read by ``fetch()`` at once: Redis most likely holds the
    same outdated entry, or none, and the GET would be a round trip before fetch's.
    """
    cache = near_cache()
    mark = cache.mark()
    if mark == NOT_LIVE:
        return fetch()
    started = time.monotonic()
    names = with_epoch(generation_keys)
    try:
        known = known_generations(cache, names, mark, started, read_keys)
    except RedisError:
        return fetch()
    if known is None:
        # A generation not created yet: the read-through path creates it, and the next
        # read fills L1.
        return fetch()
    generations, known_until = known
    value = ABSENT
    if not cache.outdated(key):
        try:
            (stored,) = read_keys([key])
        except RedisError:
            stored = None
        value = decoded(namespace, stored, [v for _name, v in generations], decode, started)
    if value is ABSENT:
        value = fetch()
    fill(cache, key, value, freeze, generations, known_until, started, mark)
    return value


def fill(
    cache: NearCache,
    key: str,
    value: Any,
    freeze: Freeze,
    generations: tuple[tuple[str, bytes], ...],
    known_until: float,
    started: float,
    mark: int,
) -> None:
    """Keep ``value`` in L1, read since ``started`` under ``generations`` (known until
    ``known_until``), unless an invalidation touching it was applied since ``mark``."""
    kept = freeze(value)
    if kept is not None:
        stored, copies, size, timeout = kept
        expires = min(started + cache.max_age, known_until)
        if timeout is not None:
            expires = min(expires, started + timeout)
        cache.fill(key, stored, copies, generations, expires, size, mark)


def read_many_missed(
    generation_keys: Sequence[str],
    keys: Sequence[str],
    fetch_many: Callable[[], dict[str, Any]],
    *,
    freeze: Freeze,
) -> dict[str, Any]:
    """``fetch_many()`` of ``keys`` that L1 missed, then kept in L1.

    The generations are known (held, or read in one MGET) before the entries are read:
    read after them, they could be newer than the values.
    """
    cache = near_cache()
    mark = cache.mark()
    if mark == NOT_LIVE:
        return fetch_many()
    started = time.monotonic()
    try:
        known = known_generations(cache, with_epoch(generation_keys), mark, started, read_keys)
    except RedisError:
        known = None
    values = fetch_many()
    if known is not None:
        generations, known_until = known
        for key in keys:
            if key in values:
                fill(cache, key, values[key], freeze, generations, known_until, started, mark)
    return values


def decoded(
    namespace: str,
    stored: bytes | None,
    generations: list[bytes],
    decode: Callable[[bytes], Any],
    started: float,
) -> Any:
    """The value of entry ``stored`` if it was stored under ``generations``, else ABSENT."""
    if stored is None:
        return ABSENT
    data = readthrough.current_data(stored, generations)
    if data is None:
        return ABSENT
    try:
        value = decode(data)
    except Exception:  # a corrupt or foreign entry: the read-through path replaces it
        return ABSENT
    stats.record_hit(namespace, time.monotonic() - started)
    return value


def known_generations(
    cache: NearCache,
    names: Sequence[str],
    mark: int,
    started: float,
    read: Callable[[list[str]], Sequence[bytes | None]],
) -> tuple[tuple[tuple[str, bytes], ...], float] | None:
    """``cache.current_generations`` of ``names``, those not held read with ``read``."""
    missing = cache.missing_generations(names)
    values = dict(zip(missing, read(missing), strict=True)) if missing else {}
    return cache.current_generations(names, mark, values, started)
