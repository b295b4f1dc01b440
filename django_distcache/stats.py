"""In-process counters of cache activity; no Redis round trip per operation."""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counters: Counter[tuple[str, str]] = Counter()


def _count(namespace: str, event: str, amount: int = 1) -> None:
    with _lock:
        _counters[(namespace, event)] += amount


def record_hit(namespace: str, seconds: float) -> None:
    _count(namespace, "hits")


def record_miss(namespace: str, seconds: float) -> None:
    _count(namespace, "misses")


def record_load(namespace: str, seconds: float) -> None:
    _count(namespace, "loads")


def record_wait(namespace: str, *, timed_out: bool) -> None:
    _count(namespace, "wait_timeouts" if timed_out else "waits")


def local_counts() -> dict[tuple[str, str], int]:
    """A copy of this process's counters, keyed by (namespace, event)."""
    with _lock:
        return dict(_counters)


def reset_local() -> None:
    with _lock:
        _counters.clear()
