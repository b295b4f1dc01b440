"""The read path: one round trip on a hit; leases, single-flight and a bounded wait on a miss."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from django_distcache import stats
from django_distcache.client import script
from django_distcache.conf import DistcacheSettings, get_settings

logger = logging.getLogger("django_distcache")

# Turns a loaded value into (bytes, timeout in seconds), or None to store nothing.
Encoder = Callable[[Any], "tuple[bytes, float] | None"]

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


def ttl_ms(timeout: float) -> int:
    """The entry's time to live, with jitter, in milliseconds."""
    jitter = get_settings().TIMEOUT_JITTER
    return max(1, int(timeout * 1000 * (1 - jitter * random.random())))


def new_token() -> str:
    return os.urandom(8).hex()


def read(generation_keys: Sequence[str], bases: Sequence[str], token: str) -> list[Any]:
    """[suffix, r1, r2, ...]: a stored value, LEASE_TAKEN or HELD_ELSEWHERE per base."""
    lease_ms = int(get_settings().LEASE_TIMEOUT * 1000)
    return script("read")(keys=list(generation_keys), args=[lease_ms, token, *bases])


def store(
    generation_keys: Sequence[str], suffix: bytes, items: Sequence[tuple[str, str, bytes, int]]
) -> int:
    """Store (base, token, data, ttl_ms) items if their leases and generations still hold."""
    if not items:
        return 0
    args: list[Any] = [suffix]
    for base, token, data, ttl in items:
        args.extend((base, token, data, ttl))
    return script("store")(keys=list(generation_keys), args=args)


def release(suffix: bytes, leases: Sequence[tuple[str, str]]) -> None:
    args: list[Any] = [suffix]
    for base, token in leases:
        args.extend((base, token))
    try:
        script("release")(keys=[], args=args)
    except RedisError:
        logger.warning("django_distcache could not release %d leases", len(leases))


def fetch(
    namespace: str,
    generation_keys: Sequence[str],
    base: str,
    loader: Callable[[], Any],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
) -> Any:
    """Return the entry at ``base``, loading it once across all processes on a miss.

    A hit is one round trip. On a miss the caller that took the lease loads and
    stores; others wait (bounded by MAX_WAIT) for the value, and take the lease
    themselves if its holder died. A value loaded before a concurrent write
    committed is never stored (the lease was deleted by the invalidation).
    """
    token = new_token()
    started = time.perf_counter()
    try:
        result = read(generation_keys, [base], token)
    except RedisError:
        logger.warning("django_distcache: Redis unavailable, loading %s from the database", base)
        return loader()
    suffix, answer = result[0], result[1]
    if isinstance(answer, bytes):
        stats.record_hit(namespace, time.perf_counter() - started)
        return decode(answer)
    stats.record_miss(namespace, time.perf_counter() - started)
    deadline = started + get_settings().MAX_WAIT
    pause = _FIRST_POLL
    waited = False
    while answer == HELD_ELSEWHERE:
        if time.perf_counter() >= deadline:
            stats.record_wait(namespace, timed_out=True)
            return loader()
        waited = True
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_POLL)
        try:
            result = read(generation_keys, [base], token)
        except RedisError:
            return loader()
        suffix, answer = result[0], result[1]
        if isinstance(answer, bytes):
            stats.record_wait(namespace, timed_out=False)
            return decode(answer)
    if waited:
        stats.record_wait(namespace, timed_out=False)
    return _load_and_store(namespace, generation_keys, base, token, suffix, loader, encode)


def _load_and_store(
    namespace: str,
    generation_keys: Sequence[str],
    base: str,
    token: str,
    suffix: bytes,
    loader: Callable[[], Any],
    encode: Encoder,
) -> Any:
    load_started = time.perf_counter()
    try:
        value = loader()
    except BaseException:
        release(suffix, [(base, token)])
        raise
    stats.record_load(namespace, time.perf_counter() - load_started)
    try:
        encoded = encode(value)
    except BaseException:
        release(suffix, [(base, token)])
        raise
    if encoded is None:
        release(suffix, [(base, token)])
        return value
    data, timeout = encoded
    try:
        stats.record_set(
            namespace, store(generation_keys, suffix, [(base, token, data, ttl_ms(timeout))])
        )
    except RedisError:
        logger.warning("django_distcache could not store %s", base)
    return value
