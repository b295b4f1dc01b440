"""The async read path: ``readthrough.fetch_many`` on the asyncio client, same keys and scripts.

A hit is one EVALSHA of ``lua/read.lua`` awaited on the event loop, with no thread. A
miss takes the lease in that same round trip, awaits the loader, and stores through
``lua/store.lua``; readers that find another process's (or coroutine's) lease poll with
``asyncio.sleep``, up to MAX_WAIT, exactly like the sync path, so sync and async readers
of one key share its single flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from django_distcache import stats
from django_distcache.conf import get_settings
from django_distcache.invalidation.replicas import RECENT, primary_of
from django_distcache.reads import acluster
from django_distcache.reads.answers import Encoder, encode_loaded, sort_answers
from django_distcache.reads.leases import kept_alive, new_token
from django_distcache.reads.readthrough import (
    _FIRST_POLL,
    _LONGEST_POLL,
    PLAIN,
)
from django_distcache.redis.areadpath import (
    acount_existing,
    adelete_entries,
    aread_or_lease,
    astore,
)
from django_distcache.redis.areadpath import arelease as release_leases
from django_distcache.redis.errors import RedisError

logger = logging.getLogger("django_distcache")

AsyncLoad = Callable[[list[str]], Awaitable[dict[str, Any]]]


async def afetch(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    loader: Callable[[], Awaitable[Any]],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
) -> Any:
    """``readthrough.fetch`` awaited: the entry at ``key``, loaded once on a miss."""

    async def load(_keys: list[str]) -> dict[str, Any]:
        return {key: await loader()}

    found = await afetch_many(
        namespace, generation_keys, [key], load, encode=encode, decode=decode, timed=True
    )
    return found[key]


async def afetch_many(
    namespace: str,
    generation_keys: Sequence[str],
    keys: Sequence[str],
    load: AsyncLoad,
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
    timed: bool = False,
) -> dict[str, Any]:
    """``readthrough.fetch_many`` awaited: ``await load(missing keys)`` for the leases
    taken here; keys leased elsewhere are polled for up to MAX_WAIT; leases are released
    if ``load`` raises (or the request is cancelled)."""
    if acluster.on_cluster():
        return await acluster.afetch_many_in_thread(
            namespace, generation_keys, keys, load, encode=encode, decode=decode, timed=timed
        )
    started = time.perf_counter()
    token = new_token()
    found: dict[str, Any] = {}
    pending = list(keys)
    deadline = started + get_settings().MAX_WAIT
    pause = _FIRST_POLL
    waited = False
    while True:
        try:
            _generations, *answers = await aread_or_lease(generation_keys, pending, token, PLAIN)
        except RedisError:  # the breaker is open or Redis failed: the database answers
            found.update(await load(pending))
            return found
        generations: bytes = _generations
        elapsed = time.perf_counter() - started if timed else 0.0
        round_ = sort_answers(
            namespace, pending, answers, decode, found, elapsed=elapsed, waited=waited
        )
        owned, held, unreadable = round_.owned, round_.held, round_.unreadable
        # A stale hit is not served stale here: its lease is given up.
        await arelease([(key, token) for key in round_.renew])
        if owned:
            if waited:
                for _key in owned:
                    stats.record_wait(namespace, timed_out=False)
            found.update(
                await _load_and_store(
                    namespace, generation_keys, owned, token, generations, load, encode
                )
            )
        if unreadable:
            found.update(await _reload_unreadable(unreadable, load))
        if not held:
            return found
        if time.perf_counter() >= deadline:
            for _key in held:
                stats.record_wait(namespace, timed_out=True)
            found.update(await load(held))
            return found
        pending = held
        waited = True
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_POLL)


async def arelease(leases: Sequence[tuple[str, str]]) -> None:
    """``leases.release`` awaited: give up (entry key, token) leases."""
    if not leases:
        return
    try:
        await release_leases(leases)
    except RedisError:
        logger.warning("django_distcache could not release %d leases", len(leases))


async def _reload_unreadable(keys: list[str], load: AsyncLoad) -> dict[str, Any]:
    try:
        await adelete_entries(keys)
    except RedisError:
        logger.warning("django_distcache could not delete %d unreadable entries", len(keys))
    return await load(keys)


async def _load_and_store(
    namespace: str,
    generation_keys: Sequence[str],
    keys: list[str],
    token: str,
    generations: bytes,
    load: AsyncLoad,
    encode: Encoder,
) -> dict[str, Any]:
    leases = [(key, token) for key in keys]
    load_started = time.perf_counter()
    try:
        # NOTE: the lease keeper is the sync path's thread; holding costs two dict operations.
        with kept_alive(leases):
            values = await load(keys)
            items, unstored = encode_loaded(keys, values, token, encode)
    except BaseException:
        await arelease(leases)
        raise
    load_seconds = time.perf_counter() - load_started
    stats.record_load(namespace, load_seconds)
    await arelease(unstored)
    if items:
        try:
            stored = await astore(generation_keys, generations, items, load_seconds, PLAIN)
            stats.record_set(namespace, stored)
        except RedisError:
            logger.warning(
                "django_distcache could not store %d entries of %s", len(items), namespace
            )
    return values


async def aread_alias(using: str, generation_keys: Sequence[str], keys: Sequence[str]) -> str:
    """``replicas.read_alias`` awaited: the primary for a miss shortly after an invalidation."""
    primary = primary_of(using)
    if primary == using or get_settings().REPLICA_LAG <= 0:
        return using
    if acluster.on_cluster():
        return await acluster.aread_alias_in_thread(using, generation_keys, keys)
    try:
        recent = await acount_existing([key + RECENT for key in (*keys, *generation_keys)])
    except RedisError:
        return primary
    return primary if recent else using
