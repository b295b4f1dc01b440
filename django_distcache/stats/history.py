"""Snapshots kept in the database for the dashboard's charts, with bounded retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from django_distcache.conf import get_settings


def compact(snap: dict[str, Any]) -> dict[str, Any]:
    """What a stored snapshot keeps: cumulative counts and Redis figures."""
    total = snap["redis"]["total"]
    return {
        "redis_available": snap["redis"]["available"],
        "hits": snap["overall"]["hits"],
        "misses": snap["overall"]["misses"],
        "evicted_keys": total.get("evicted_keys", 0),
        "expired_keys": total.get("expired_keys", 0),
        "commands_processed": total.get("commands_processed", 0),
        "used_memory": total.get("used_memory", 0),
        "maxmemory": total.get("maxmemory", 0),
        "namespaces": {
            row["namespace"]: [row["hits"], row["misses"]] for row in snap["namespaces"]
        },
    }


def record_snapshot(snap: dict[str, Any] | None = None) -> int:
    """Store a snapshot now and drop those older than STATS_HISTORY_RETENTION; its id."""
    from django_distcache.models import StatsSnapshot
    from django_distcache.stats.snapshot import snapshot

    snap = snap or snapshot()
    row = StatsSnapshot.objects.create(taken_at=timezone.now(), data=compact(snap))
    cutoff = timezone.now() - timedelta(seconds=get_settings().STATS_HISTORY_RETENTION)
    StatsSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    return row.pk


def latest() -> tuple[datetime, dict[str, Any]] | None:
    """The newest stored snapshot as (taken_at, data), or None."""
    from django_distcache.models import StatsSnapshot

    row = StatsSnapshot.objects.order_by("-taken_at").first()
    return None if row is None else (row.taken_at, row.data)


def since(start: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    """Stored snapshots taken from ``start`` on, oldest first."""
    from django_distcache.models import StatsSnapshot

    rows = StatsSnapshot.objects.filter(taken_at__gte=start).order_by("taken_at")
    return [(row.taken_at, row.data) for row in rows]


def _increase(current: int, previous: int) -> int:
    # A counter that went down was reset (Redis restarted, statistics reset).
    return current - previous if current >= previous else current


def series(points: list[tuple[datetime, dict[str, Any]]]) -> dict[str, list[tuple[datetime, Any]]]:
    """Chart series: hit rate, evictions and Redis commands per second per interval, memory
    used at each point."""
    hit_rate: list[tuple[datetime, Any]] = []
    evictions: list[tuple[datetime, Any]] = []
    commands: list[tuple[datetime, Any]] = []
    memory: list[tuple[datetime, Any]] = []
    previous: dict[str, Any] | None = None
    previous_at = datetime.min
    for taken_at, data in points:
        if data.get("redis_available", True):
            memory.append((taken_at, data["used_memory"]))
        if previous is not None:
            hits = _increase(data["hits"], previous["hits"])
            misses = _increase(data["misses"], previous["misses"])
            hit_rate.append((taken_at, hits / (hits + misses) if hits + misses else None))
            evicted = _increase(data["evicted_keys"], previous["evicted_keys"])
            evictions.append((taken_at, evicted))
            commands.append((taken_at, _commands_per_second(previous, data, previous_at, taken_at)))
        previous, previous_at = data, taken_at
    return {"hit_rate": hit_rate, "evictions": evictions, "commands": commands, "memory": memory}


def _commands_per_second(
    previous: dict[str, Any], data: dict[str, Any], since: datetime, until: datetime
) -> float | None:
    """Redis commands per second between two snapshots (None where one was taken before
    snapshots kept the count, or Redis was unavailable)."""
    then, now = previous.get("commands_processed"), data.get("commands_processed")
    seconds = (until - since).total_seconds()
    if not then or not now or seconds <= 0:
        return None
    return _increase(now, then) / seconds
