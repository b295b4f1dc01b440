"""The read path: one round trip on a hit; leases, single-flight and a bounded wait on a miss.

An entry is stored at a fixed key as ``b"<generations>|<data>"``: it is current only
while the generations it was loaded under (its namespace, dependencies and tags) are
still the current ones, so bumping a generation invalidates a whole group in O(1) and
the old entries are overwritten by the next load or age out by TTL.
"""

from __future__ import annotations

import itertools
import logging
import os
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
from django_distcache.outbox.keys import with_epoch

logger = logging.getLogger("django_distcache")

# Turns a loaded value into (bytes, timeout in seconds), or None to store nothing.
Encoder = Callable[[Any], "tuple[bytes, float] | None"]

HELD_ELSEWHERE = 0
LEASE_TAKEN = 1
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.025
_token_prefix = os.urandom(6).hex()
_token_counter = itertools.count()


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


def ttl_ms(timeout: float) -> int:
    """The entry's time to live, with jitter, in milliseconds."""
    jitter = get_settings().TIMEOUT_JITTER
    return max(1, int(timeout * 1000 * (1 - jitter * random.random())))


def new_token() -> str:
    """A lease token unique across processes (random per process, counted within)."""
    return f"{_token_prefix}{next(_token_counter)}"


def current_data(stored: bytes | None, generations: Sequence[bytes | None]) -> bytes | None:
    """The data of ``stored`` if it was loaded under ``generations``, else None."""
    if stored is None or None in generations:
        return None
    loaded_under, _, data = stored.partition(b"|")
    return data if loaded_under == b".".join(generations) else None  # type: ignore[arg-type]


def read_current(generation_keys: Sequence[str], keys: Sequence[str]) -> list[bytes | None]:
    """The current data of each entry in one round trip (a single MGET), None where absent."""
    breaker.check()
    try:
        values: list[Any] = wire.mget(get_redis(), [*keys, *with_epoch(generation_keys)])
    except RedisError as error:
        breaker.trip(error)
        raise
    generations = values[len(keys) :]
    return [current_data(stored, generations) for stored in values[: len(keys)]]


def read_or_lease(generation_keys: Sequence[str], keys: Sequence[str], token: str) -> list[Any]:
    """[generations, r1, r2, ...]: the stored entry, LEASE_TAKEN or HELD_ELSEWHERE per key."""
    lease_ms = int(get_settings().LEASE_TIMEOUT * 1000)
    breaker.check()
    try:
        return script("read")(keys=with_epoch(generation_keys), args=[lease_ms, token, *keys])
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
    """Store (key, token, data, ttl_ms) items if their leases and generations still hold."""
    if not items:
        return 0
    args: list[Any] = [generations]
    for key, token, data, ttl in items:
        args.extend((key, token, data, ttl))
    return script("store")(keys=with_epoch(generation_keys), args=args)


def release(leases: Sequence[tuple[str, str]]) -> None:
    """Give up (key, token) leases so that waiters load at once."""
    args: list[Any] = []
    for key, token in leases:
        args.extend((key, token))
    try:
        script("release")(keys=[], args=args)
    except RedisError:
        logger.warning("django_distcache could not release %d leases", len(leases))


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
    themselves if its holder died. A value loaded before a concurrent write
    committed is never stored (the invalidation deleted the lease).
    """
    started = time.perf_counter()
    try:
        (data,) = read_current(generation_keys, [key])
    except RedisError:
        return loader()
    if data is not None:
        stats.record_hit(namespace, time.perf_counter() - started)
        return decode(data)
    # The miss: take the lease and load, or wait for its holder.
    token = new_token()
    deadline = started + get_settings().MAX_WAIT
    pause = _FIRST_POLL
    waited = False
    while True:
        try:
            generations, answer = read_or_lease(generation_keys, [key], token)
        except RedisError:
            return loader()
        if isinstance(answer, bytes):
            # filled by another process meanwhile
            stats.record_wait(namespace, timed_out=False)
            return decode(data_of(answer))
        if not waited:
            stats.record_miss(namespace, time.perf_counter() - started)
        if answer == LEASE_TAKEN:
            if waited:
                stats.record_wait(namespace, timed_out=False)
            return _load_and_store(
                namespace, generation_keys, key, token, generations, loader, encode
            )
        if time.perf_counter() >= deadline:
            stats.record_wait(namespace, timed_out=True)
            return loader()
        waited = True
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_POLL)


def _load_and_store(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    token: str,
    generations: bytes,
    loader: Callable[[], Any],
    encode: Encoder,
) -> Any:
    load_started = time.perf_counter()
    try:
        value = loader()
        encoded = encode(value)
    except BaseException:
        release([(key, token)])
        raise
    stats.record_load(namespace, time.perf_counter() - load_started)
    if encoded is None:
        release([(key, token)])
        return value
    data, timeout = encoded
    try:
        stats.record_set(
            namespace, store(generation_keys, generations, [(key, token, data, ttl_ms(timeout))])
        )
    except RedisError:
        logger.warning("django_distcache could not store %s", key)
    return value
