"""Cache statistics: cheap in-process recording, merged snapshots, health warnings.

The ``record_*`` functions are called on the read path; they only update this
process's counters (see ``recorder``), which reach Redis in batches.
"""

from __future__ import annotations

from django_distcache.stats import checks as _checks  # noqa: F401  (registers them)
from django_distcache.stats import recorder
from django_distcache.stats.health import health_warnings
from django_distcache.stats.recorder import flush, reset, reset_local
from django_distcache.stats.snapshot import LOAD, READ, snapshot

__all__ = [
    "connect_signals",
    "flush",
    "health_warnings",
    "local_counts",
    "near_hits_field",
    "record_hit",
    "record_invalidation",
    "record_load",
    "record_miss",
    "record_near_hit",
    "record_set",
    "record_wait",
    "record_warm_run",
    "reset",
    "reset_local",
    "snapshot",
]


def record_hit(namespace: str, seconds: float) -> None:
    """A read served from Redis in ``seconds`` (0 when unknown, as in batch reads)."""
    if recorder.enabled():
        if seconds > 0:
            recorder.observe(READ, namespace, "hits", seconds)
        else:
            recorder.count(namespace, "hits")


def record_miss(namespace: str, seconds: float) -> None:
    """A read that found nothing, after ``seconds`` (0 when unknown)."""
    if recorder.enabled():
        if seconds > 0:
            recorder.observe(READ, namespace, "misses", seconds)
        else:
            recorder.count(namespace, "misses")


def record_near_hit(namespace: str, seconds: float) -> None:
    """A read served from an in-process near cache."""
    if recorder.enabled():
        recorder.count_lock_free((recorder.COUNT, namespace, "near_hits"))


def near_hits_field(namespace: str) -> tuple[str, str, str] | None:
    """The field a near-cache hit of ``namespace`` adds one to with ``tally.add``, or
    None when statistics are off, for a hit path that keeps it with the settings it was
    made under (STATS_ENABLED is read here, once; the statistics thread started)."""
    if not recorder.enabled():
        return None
    recorder.start_flusher()  # count_lock_free's part, done once here
    return (recorder.COUNT, namespace, "near_hits")


def record_load(namespace: str, seconds: float) -> None:
    """A loader (database query or function) that ran for ``seconds``."""
    if recorder.enabled():
        recorder.observe(LOAD, namespace, "loads", seconds)


def record_wait(namespace: str, *, timed_out: bool) -> None:
    """A reader waited for another process's load (stampede protection)."""
    if recorder.enabled():
        recorder.count(namespace, "wait_timeouts" if timed_out else "waits")


def record_set(namespace: str, count: int = 1) -> None:
    """``count`` entries stored."""
    if count and recorder.enabled():
        recorder.count(namespace, "sets", count)


def record_invalidation(namespace: str, count: int = 1) -> None:
    """``count`` invalidations (entries dropped or a namespace bumped)."""
    if count and recorder.enabled():
        recorder.count(namespace, "invalidations", count)


def record_warm_run(namespace: str) -> None:
    """A warming run of ``namespace`` (a warmer's name)."""
    if recorder.enabled():
        recorder.count(namespace, "warm_runs")


def local_counts() -> dict[tuple[str, str], int]:
    """This process's unflushed counters, keyed by (namespace, event)."""
    return {
        (field[1], field[2]): int(value)
        for field, value in recorder.pending().items()
        if field[0] == recorder.COUNT
    }


def connect_signals() -> None:
    """Count invalidations from the app's ``invalidated`` signal (called from ready())."""
    from django_distcache.invalidation import PendingInvalidation
    from django_distcache.signals import invalidated
    from django_distcache.stats.namespaces import count_invalidated

    invalidated.connect(
        count_invalidated, sender=PendingInvalidation, dispatch_uid="django_distcache.stats"
    )
