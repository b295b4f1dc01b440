"""In-process aggregation of cache events, flushed to one Redis hash in batches.

NOTE: recording an event costs a lock and a dict update (about a microsecond); a
background thread writes the totals with one pipelined round trip every
STATS_FLUSH_INTERVAL seconds, or sooner once STATS_FLUSH_EVERY events have piled up.
Counts of every process add up in Redis (HINCRBY).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import defaultdict
from typing import Any

from django_distcache import keys
from django_distcache.conf import get_settings
from django_distcache.redis import counters
from django_distcache.redis.errors import RedisError
from django_distcache.stats import tally
from django_distcache.stats.histogram import BUCKETS, bucket_index

logger = logging.getLogger("django_distcache")

# Field kinds in the hash: counts, histogram buckets, summed seconds.
COUNT, BUCKET, SECONDS = "c", "h", "s"
SEP = "|"

_lock = threading.Lock()
_flush_lock = threading.Lock()
_pending: defaultdict[tuple[Any, ...], float] = defaultdict(int)
_events = 0
_wake_requested = False
_wake = threading.Event()
_flusher: threading.Thread | None = None
_redis_was_down = False
# (settings object, STATS_ENABLED, STATS_FLUSH_EVERY), refreshed when settings change.
# NOTE: reading a setting costs about a microsecond; this keeps it off the hot path.
_state: tuple[Any, bool, int] = (None, False, 0)


def stats_key() -> str:
    """The Redis hash holding every process's flushed statistics."""
    return f"{keys.prefix()}:stats"


def _current() -> tuple[Any, bool, int]:
    global _state
    conf = get_settings()
    if _state[0] is not conf:
        _state = (conf, conf.STATS_ENABLED, conf.STATS_FLUSH_EVERY)
    return _state


def enabled() -> bool:
    return _current()[1]


def count(namespace: str, event: str, amount: int = 1) -> None:
    """Add ``amount`` to the ``event`` counter of ``namespace``."""
    global _events, _wake_requested
    with _lock:
        _pending[(COUNT, namespace, event)] += amount
        _events += 1
        wake = _events >= _state[2] and not _wake_requested
        if wake:
            _wake_requested = True
    _after_record(wake)


def count_lock_free(field: tuple[str, str, str]) -> None:
    """``count(namespace, event)`` of a field (COUNT, namespace, event) counted on every
    hit: no lock (see ``tally``), and no early flush (STATS_FLUSH_EVERY leaves it out)."""
    tally.add(field)
    if _flusher is None:
        _start_flusher()


def start_flusher() -> None:
    """Start the thread that sends the counts, if it has not started (for a caller of
    ``tally.add``, which starts nothing)."""
    if _flusher is None:
        _start_flusher()


def observe(kind: str, namespace: str, event: str, seconds: float) -> None:
    """Count ``event`` and put ``seconds`` in the ``kind`` latency histogram."""
    global _events, _wake_requested
    index = bucket_index(seconds)
    with _lock:
        _pending[(COUNT, namespace, event)] += 1
        _pending[(BUCKET, kind, namespace, index)] += 1
        _pending[(SECONDS, kind, namespace)] += seconds
        _events += 1
        wake = _events >= _state[2] and not _wake_requested
        if wake:
            _wake_requested = True
    _after_record(wake)


def _after_record(wake: bool) -> None:
    if _flusher is None:
        _start_flusher()
    if wake:
        _wake.set()


def _start_flusher() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(
            target=_flush_forever, name="distcache-stats-flusher", daemon=True
        )
        _flusher.start()


def _flush_forever() -> None:
    while True:
        _wake.wait(get_settings().STATS_FLUSH_INTERVAL)
        _wake.clear()
        try:
            flush()
        except Exception:  # the thread must outlive a bad moment (settings, shutdown)
            logger.exception("django_distcache statistics flush failed")


def _take() -> dict[tuple[Any, ...], float]:
    global _pending, _events, _wake_requested
    with _lock:
        taken, _pending, _events, _wake_requested = _pending, defaultdict(int), 0, False
    for field, amount in tally.take().items():
        taken[field] += amount
    return taken


def _put_back(taken: dict[tuple[Any, ...], float]) -> None:
    with _lock:
        for field, value in taken.items():
            _pending[field] += value


def field_name(field: tuple[Any, ...]) -> str:
    return SEP.join(str(part) for part in field)


def flush() -> bool:
    """Write this process's pending statistics to Redis now; False if Redis failed."""
    global _redis_was_down
    with _flush_lock:
        taken = _take()
        if not taken:
            return True
        key = stats_key()
        try:
            counters.add(
                key,
                {
                    field_name(field): float(value) if field[0] == SECONDS else int(value)
                    for field, value in taken.items()
                },
            )
        except RedisError as exc:
            # Kept for the next flush: the fields are bounded by namespaces x buckets.
            _put_back(taken)
            if not _redis_was_down:
                logger.warning("django_distcache could not flush statistics: %s", exc)
            _redis_was_down = True
            return False
        _redis_was_down = False
        return True


def pending() -> dict[tuple[Any, ...], float]:
    """A copy of this process's statistics not yet flushed."""
    with _lock:
        copied = dict(_pending)
    for field, amount in tally.peek().items():
        copied[field] = copied.get(field, 0) + amount
    return copied


def reset_local() -> None:
    """Drop this process's unflushed statistics (waits for a flush under way)."""
    with _flush_lock:
        _take()


def reset() -> None:
    """Drop every process's flushed statistics and this process's pending ones."""
    with _flush_lock:
        _take()
        counters.drop(stats_key())


def read_flushed() -> dict[str, Any]:
    """The statistics of every process, as flushed to Redis, parsed.

    Returns ``{"counts": {ns: {event: n}}, "buckets": {(kind, ns): [n] * BUCKETS},
    "seconds": {(kind, ns): total}}``.
    """
    return parse(counters.read(stats_key()).items())


def parse(items: Any) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    buckets: dict[tuple[str, str], list[int]] = {}
    seconds: dict[tuple[str, str], float] = {}
    for raw_field, raw_value in items:
        field = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        kind, _, rest = field.partition(SEP)
        if kind == COUNT:
            namespace, _, event = rest.rpartition(SEP)
            counts.setdefault(namespace, {})[event] = int(raw_value)
        elif kind == BUCKET:
            latency, _, rest = rest.partition(SEP)
            namespace, _, index = rest.rpartition(SEP)
            if index.isdigit() and int(index) < BUCKETS:
                hist = buckets.setdefault((latency, namespace), [0] * BUCKETS)
                hist[int(index)] += int(raw_value)
        elif kind == SECONDS:
            latency, _, namespace = rest.partition(SEP)
            seconds[(latency, namespace)] = float(raw_value)
    return {"counts": counts, "buckets": buckets, "seconds": seconds}


def _after_fork_in_child() -> None:
    # The parent's unflushed counts are the parent's to flush; the thread is gone.
    global _lock, _flush_lock, _pending, _events, _flusher, _wake, _wake_requested
    _lock = threading.Lock()
    _flush_lock = threading.Lock()
    _pending = defaultdict(int)
    _events = 0
    _wake_requested = False
    _flusher = None
    _wake = threading.Event()


def _flush_at_exit() -> None:
    # Even with nothing pending: flush() waits for one under way in the thread,
    # whose counts would be lost when the interpreter stops it.
    try:
        flush()
    except Exception:  # settings or Django may be gone at exit
        logger.debug("django_distcache could not flush statistics at exit", exc_info=True)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)
