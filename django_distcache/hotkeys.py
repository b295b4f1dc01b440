"""A cheap, bounded record of the most-read objects per model, for hot-key warming.

Each process counts its reads in memory and a background thread adds them to a Redis
sorted set per model every HOT_KEYS_FLUSH_INTERVAL seconds (one pipelined round trip),
trimmed to the HOT_KEYS_SIZE most-read keys. Counts halve every HOT_KEYS_HALF_LIFE
seconds (applied at each flush), so a newly hot key overtakes one that was hot long ago.
NOTE: a read costs a lock and a dict increment, never a Redis round trip. At most
8 x HOT_KEYS_SIZE distinct keys are counted between flushes; reads of further keys
wait for the next interval (a hot key is read again soon enough to be counted).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django_distcache import keys
from django_distcache.conf import get_settings
from django_distcache.redis.errors import RedisError

logger = logging.getLogger("django_distcache")

_lock = threading.Lock()
_flush_lock = threading.Lock()  # held while a flush sends what it took
_counts: Counter[tuple[str, str]] = Counter()
_last_flush = [time.monotonic()]
_flusher: list[threading.Thread] = []
# (settings object, HOT_KEYS_SIZE), refreshed when settings change
_state: tuple[Any, int] = (None, 0)
# What add_source added: drained at each flush.
_sources: list[Callable[[], Iterable[tuple[str, Any, int]]]] = []


def hot_key(namespace: str) -> str:
    """The sorted set of the most-read keys of ``namespace`` (a model label)."""
    return f"{keys.prefix()}:hot:{keys.safe_part(namespace, 80)}"


def namespaces_key() -> str:
    return f"{keys.prefix()}:hot:namespaces"


def _size() -> int:
    global _state
    conf = get_settings()
    if _state[0] is not conf:
        _state = (conf, conf.HOT_KEYS_SIZE)
    return _state[1]


def record(namespace: str, key: Any, reads: int = 1) -> None:
    """Count ``reads`` reads of ``key`` in ``namespace`` (more than one: a sample's weight)."""
    size = _size()
    if not size:
        return
    counted = (namespace, str(key))
    with _lock:
        if counted in _counts or len(_counts) < 8 * size:
            _counts[counted] += reads
    if not _flusher:
        _start_flusher()


def add_source(drain: Callable[[], Iterable[tuple[str, Any, int]]]) -> None:
    """Count, at each flush, the reads ``drain()`` returns as (namespace, key, reads):
    reads a hot path keeps in memory rather than counting them here (a near-cache hit's
    samples). Starts the flusher, as a first ``record`` does."""
    if drain not in _sources:
        _sources.append(drain)
    if _size() and not _flusher:
        _start_flusher()


def _count_sources() -> None:
    for drain in list(_sources):
        for namespace, key, reads in drain():
            record(namespace, key, reads)


def record_many(namespace: str, read_keys: Iterable[Any]) -> None:
    """Count one read of each of ``read_keys`` in ``namespace``."""
    for key in read_keys:
        record(namespace, key)


def _start_flusher() -> None:
    with _lock:
        if _flusher:
            return
        thread = threading.Thread(target=_flush_forever, name="distcache-hot-keys", daemon=True)
        _flusher.append(thread)
    thread.start()


def _flush_forever() -> None:
    while True:
        time.sleep(get_settings().HOT_KEYS_FLUSH_INTERVAL)
        try:
            flush()
        except Exception:
            logger.debug("django_distcache could not flush hot keys", exc_info=True)


def _forget_flusher_in_child() -> None:
    # A forked child has no thread; it starts its own on its first read.
    global _lock, _flush_lock
    _lock = threading.Lock()
    _flush_lock = threading.Lock()
    _flusher.clear()
    _counts.clear()


os.register_at_fork(after_in_child=_forget_flusher_in_child)


def flush() -> None:
    """Add this process's counts to Redis and trim each set to HOT_KEYS_SIZE."""
    with _flush_lock:
        _flush()


def _flush() -> None:
    from django_distcache.redis import hotkeys as sets

    _count_sources()
    with _lock:
        counts = dict(_counts)
        _counts.clear()
        _last_flush[0] = time.monotonic()
    if not counts:
        return
    size = get_settings().HOT_KEYS_SIZE
    by_namespace: dict[str, dict[str, int]] = {}
    for (namespace, key), count in counts.items():
        by_namespace.setdefault(namespace, {})[key] = count
    try:
        factors = _decay_factors(list(by_namespace))
        by_key = {hot_key(namespace): members for namespace, members in by_namespace.items()}
        sets.add_counts(
            namespaces_key(),
            list(by_namespace),
            by_key,
            {hot_key(namespace): factor for namespace, factor in factors.items()},
            size,
        )
    except RedisError:
        pass  # NOTE: hot-key counts are a hint; losing some costs nothing else.


def _decay_factors(namespaces: list[str]) -> dict[str, float]:
    """By how much each namespace's counts decayed since the last flush that decayed
    them (any process's). NOTE: one more round trip per flush when decay is on."""
    from django_distcache.redis import hotkeys as sets

    half_life = get_settings().HOT_KEYS_HALF_LIFE
    if not half_life:
        return {}
    now = time.time()
    stamps = [f"{hot_key(namespace)}:decayed_at" for namespace in namespaces]
    factors = {}
    for namespace, last in zip(namespaces, sets.swap_stamps(stamps, now), strict=True):
        if last is not None:
            factors[namespace] = 0.5 ** (max(0.0, now - float(last)) / half_life)
    return factors


def hottest(namespace: str, limit: int | None = None) -> list[tuple[str, float]]:
    """The most-read keys of ``namespace`` with their counts, hottest first."""
    from django_distcache.redis import hotkeys as sets

    return sets.highest(hot_key(namespace), limit or get_settings().HOT_KEYS_SIZE)


def hot_namespaces() -> list[str]:
    """The namespaces whose reads were ever counted."""
    from django_distcache.redis import hotkeys as sets

    return sets.set_members(namespaces_key())


def reset_local() -> None:
    """Drop this process's counts not yet flushed (waits for a flush under way)."""
    with _flush_lock:
        for drain in list(_sources):
            for _read in drain():
                pass
        with _lock:
            _counts.clear()
