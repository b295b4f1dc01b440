"""The read path: one round trip on a hit; leases, single-flight and a bounded wait on a miss.

An entry is stored at a fixed key as ``b"<generations>|<data>"``: it is current only
while the generations it was loaded under (its namespace, dependencies and tags) are
still the current ones, so bumping a generation invalidates a whole group in O(1) and
the old entries are overwritten by the next load or age out by TTL.

The first round trip of every read is ``lua/read.lua``: it returns the entry if it is
current and otherwise takes its lease, so a miss costs that round trip, the load and
one store, and a hit costs one round trip.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from django_distcache import breaker, stats, wire
from django_distcache.client import get_redis, script
from django_distcache.conf import DistcacheSettings, get_settings
from django_distcache.leases import kept_alive, lease_ms, new_token, release
from django_distcache.outbox.keys import with_epoch

__all__ = [
    "HELD_ELSEWHERE",
    "LEASE_TAKEN",
    "Encoder",
    "fetch",
    "fetch_many",
    "new_token",
    "read_or_lease",
    "release",
    "serializer",
    "store",
    "ttl_ms",
]

logger = logging.getLogger("django_distcache")

# Turns a loaded value into (bytes, timeout in seconds or None for no expiry), or None
# to store nothing.
Encoder = Callable[[Any], "tuple[bytes, float | None] | None"]

HELD_ELSEWHERE = 0
LEASE_TAKEN = 1
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.025


@lru_cache(maxsize=4)
def _serializer_for(conf: DistcacheSettings) -> Any:
    cls = import_string(conf.SERIALIZER)
    try:
        return cls(compress_min_bytes=conf.COMPRESS_MIN_BYTES)
    except TypeError:
        return cls()


def serializer() -> Any:
    """The configured codec of cached values."""
    return _serializer_for(get_settings())


def ttl_ms(timeout: float | None) -> int:
    """The entry's time to live, with jitter, in milliseconds (0: never expires)."""
    if timeout is None:
        return 0
    jitter = get_settings().TIMEOUT_JITTER
    return max(1, int(timeout * 1000 * (1 - jitter * random.random())))


def current_data(stored: bytes | None, generations: Sequence[bytes | None]) -> bytes | None:
    """The data of ``stored`` if it was loaded under ``generations``, else None."""
    if stored is None or None in generations:
        return None
    loaded_under, _, data = stored.partition(b"|")
    return data if loaded_under == b".".join(generations) else None  # type: ignore[arg-type]


def read_current(
    generation_keys: Sequence[str], keys: Sequence[str], also: Sequence[str] = ()
) -> list[bytes | None]:
    """The current data of each entry in one round trip (a single MGET), None where
    absent; then the raw values of the keys ``also`` read in the same MGET."""
    breaker.check()
    try:
        values: list[Any] = wire.mget(get_redis(), [*keys, *also, *with_epoch(generation_keys)])
    except RedisError as error:
        breaker.trip(error)
        raise
    generations = values[len(keys) + len(also) :]
    entries = [current_data(stored, generations) for stored in values[: len(keys)]]
    return entries + values[len(keys) : len(keys) + len(also)]


def read_or_lease(generation_keys: Sequence[str], keys: Sequence[str], token: str) -> list[Any]:
    """[generations, r1, r2, ...]: the stored entry, LEASE_TAKEN or HELD_ELSEWHERE per key."""
    breaker.check()
    try:
        return wire.run_script(
            get_redis(), script("read"), with_epoch(generation_keys), [lease_ms(), token, *keys]
        )
    except RedisError as error:
        breaker.trip(error)
        raise


def data_of(entry: bytes) -> bytes:
    return entry.partition(b"|")[2]


def store(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
) -> int:
    """Store (key, token, data, ttl_ms) items if their leases and generations still hold.

    Leases whose store is refused (a generation moved on) are released at once.
    """
    if not items:
        return 0
    args: list[Any] = [generations]
    for key, token, data, ttl in items:
        args.extend((key, token, data, ttl))
    return wire.run_script(get_redis(), script("store"), with_epoch(generation_keys), args)


def store_later(
    namespace: str,
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
) -> None:
    """``store`` without waiting for its reply (read with this thread's next command).

    NOTE: a miss is then one blocking round trip (read-or-lease) plus the load. It is
    sent as EVAL, never answered NOSCRIPT by a Redis that restarted. A store lost with
    its connection is only a cache fill that did not happen: its lease expires.
    """
    if not items:
        return
    client = get_redis()
    if not wire.can_send_directly(client):
        stats.record_set(namespace, store(generation_keys, generations, items))
        return
    args: list[Any] = [generations]
    for key, token, data, ttl in items:
        args.extend((key, token, data, ttl))
    body = wire.script_body(script("store"), with_epoch(generation_keys), args, source=True)

    def stored(reply: Any) -> None:
        # Counted as stored when sent; a store refused (a generation moved on) is taken back.
        stats.record_set(namespace, (reply if isinstance(reply, int) else 0) - len(items))
        if not isinstance(reply, int):
            logger.warning("django_distcache could not store %d entries: %s", len(items), reply)

    wire.send_later(client, body, stored)
    stats.record_set(namespace, len(items))


def fetch(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    loader: Callable[[], Any],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
) -> Any:
    """Return the entry at ``key``, loading it once across all processes on a miss.

    A hit is one round trip. On a miss the caller that took the lease loads and
    stores; others wait (bounded by MAX_WAIT) for the value, and take the lease
    themselves if its holder died or took it under older generations. A value
    loaded before a concurrent write committed is never stored.
    """
    return fetch_many(
        namespace,
        generation_keys,
        [key],
        lambda _keys: {key: loader()},
        encode=encode,
        decode=decode,
        timed=True,
    )[key]


def fetch_many(
    namespace: str,
    generation_keys: Sequence[str],
    keys: Sequence[str],
    load: Callable[[list[str]], dict[str, Any]],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
    timed: bool = False,
) -> dict[str, Any]:
    """The entries at ``keys``; ``load(missing keys)`` is called for the leases taken here.

    Keys whose lease another process holds are waited for (up to MAX_WAIT), like
    ``fetch``; leases are released if ``load`` raises. Hits and misses are counted; only a
    ``timed`` read (``fetch``: one key) adds a read latency sample, a batch's round trip
    being no one read's latency.
    """
    started = time.perf_counter()
    token = new_token()
    found: dict[str, Any] = {}
    pending = list(keys)
    deadline = started + get_settings().MAX_WAIT
    pause = _FIRST_POLL
    waited = False
    while True:
        try:
            _generations, *answers = read_or_lease(generation_keys, pending, token)
        except RedisError:
            found.update(load(pending))
            return found
        generations: bytes = _generations
        elapsed = time.perf_counter() - started if timed else 0.0
        owned: list[str] = []
        held: list[str] = []
        unreadable: list[str] = []
        for key, answer in zip(pending, answers, strict=True):
            if isinstance(answer, bytes):
                try:
                    found[key] = decode(data_of(answer))
                except Exception as error:  # a corrupt or foreign entry: a miss
                    stats.record_miss(namespace, elapsed)
                    unreadable.append(key)
                    logger.warning("django_distcache dropped unreadable entry %s: %r", key, error)
                    continue
                if waited:
                    stats.record_wait(namespace, timed_out=False)
                else:
                    stats.record_hit(namespace, elapsed)
                continue
            if not waited:
                stats.record_miss(namespace, elapsed)
            (owned if answer == LEASE_TAKEN else held).append(key)
        if owned:
            if waited:
                for _key in owned:
                    stats.record_wait(namespace, timed_out=False)
            found.update(
                _load_and_store(namespace, generation_keys, owned, token, generations, load, encode)
            )
        if unreadable:
            found.update(_reload_unreadable(unreadable, load))
        if not held:
            return found
        if time.perf_counter() >= deadline:
            for _key in held:
                stats.record_wait(namespace, timed_out=True)
            found.update(load(held))
            return found
        pending = held
        waited = True
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_POLL)


def _reload_unreadable(
    keys: list[str], load: Callable[[list[str]], dict[str, Any]]
) -> dict[str, Any]:
    """Delete unreadable entries and load them uncached (the next read stores them)."""
    try:
        get_redis().delete(*keys)
    except RedisError:
        logger.warning("django_distcache could not delete %d unreadable entries", len(keys))
    return load(keys)


def _load_and_store(
    namespace: str,
    generation_keys: Sequence[str],
    keys: list[str],
    token: str,
    generations: bytes,
    load: Callable[[list[str]], dict[str, Any]],
    encode: Encoder,
) -> dict[str, Any]:
    leases = [(key, token) for key in keys]
    load_started = time.perf_counter()
    try:
        with kept_alive(leases):
            values = load(keys)
            items: list[tuple[str, str, bytes, int]] = []
            unstored: list[tuple[str, str]] = []
            for key in keys:
                encoded = encode(values.get(key))
                if encoded is None:
                    unstored.append((key, token))
                else:
                    data, timeout = encoded
                    items.append((key, token, data, ttl_ms(timeout)))
    except BaseException:
        release(leases)
        raise
    stats.record_load(namespace, time.perf_counter() - load_started)
    release(unstored)
    try:
        store_later(namespace, generation_keys, generations, items)
    except RedisError:
        logger.warning("django_distcache could not store %d entries of %s", len(items), namespace)
    return values
