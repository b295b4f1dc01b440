"""What the admin dashboard shows: a snapshot made readable, charts of the history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from django_distcache.charts import line_chart
from django_distcache.redis.server import cache_operator_view
from django_distcache.stats import history
from django_distcache.stats.snapshot import snapshot

CHART_HOURS = 6
RANGES = (1, 6, 24, 24 * 7)
REFRESH_CHOICES = (0, 10, 30, 60)
NO_DATA = "\N{EN DASH}"


def percent(fraction: float | None) -> str:
    return NO_DATA if fraction is None else f"{fraction * 100:.1f}%"


def millis(seconds: float | None) -> str:
    if seconds is None:
        return NO_DATA
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def latency_row(name: str, latency: dict[str, float | None]) -> dict[str, str]:
    return {"name": name, **{q: millis(v) for q, v in latency.items()}}


def _namespace_rows(snap: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in snap["namespaces"]:
        rows.append(
            {
                **row,
                "hit_rate_text": percent(row["hit_rate"]),
                "avg_load": millis(row["load_seconds"] / row["loads"] if row["loads"] else None),
                "read_p95": millis(row["read_latency"]["p95"]),
                "load_p95": millis(row["load_latency"]["p95"]),
            }
        )
    return rows


def _memory(total: dict[str, Any]) -> dict[str, Any]:
    used, limit = total.get("used_memory", 0), total.get("maxmemory", 0)
    return {
        "used": filesizeformat(used),
        "limit": filesizeformat(limit) if limit else "no limit (maxmemory 0)",
        "fraction": percent(used / limit) if limit else None,
        "bar": min(100.0, 100 * used / limit) if limit else 0,
    }


def _per_second(now: float, then: float | None, seconds: float) -> str:
    # None: the first snapshot predates the count; a counter that went down was reset.
    if then is None or seconds <= 0 or now < then:
        return NO_DATA
    return f"{(now - then) / seconds:,.2f}/s"


def _rates(points: list[tuple[datetime, dict[str, Any]]], snap: dict[str, Any]) -> dict[str, Any]:
    """Hits, misses, evictions, expirations and Redis commands per second from the window's
    first stored snapshot to now (commands from INFO's total_commands_processed)."""
    if not points or not snap["redis"]["available"]:
        return {"since": None}
    since, first = points[0]
    seconds = (timezone.now() - since).total_seconds()
    total, overall = snap["redis"]["total"], snap["overall"]
    return {
        "since": timezone.localtime(since),
        "hits": _per_second(overall["hits"], first.get("hits", 0), seconds),
        "misses": _per_second(overall["misses"], first.get("misses", 0), seconds),
        "evictions": _per_second(total["evicted_keys"], first.get("evicted_keys", 0), seconds),
        "expirations": _per_second(total["expired_keys"], first.get("expired_keys", 0), seconds),
        "commands": _per_second(
            total["commands_processed"], first.get("commands_processed"), seconds
        ),
    }


def _charts(hours: int, snap: dict[str, Any]) -> dict[str, Any]:
    end = timezone.localtime()
    start = end - timedelta(hours=hours)
    try:
        points = history.since(start)
    except DatabaseError as exc:
        return {"error": str(exc)}
    local = [(timezone.localtime(taken_at), data) for taken_at, data in points]
    series = history.series(local)
    return {
        "error": None,
        "rates": _rates(points, snap),
        "snapshots": len(points),
        "hit_rate": line_chart(
            series["hit_rate"],
            title="Hit rate per interval",
            start=start,
            end=end,
            label=percent,
            y_max=1.0,
        ),
        "evictions": line_chart(
            series["evictions"],
            title="Evicted keys per interval",
            start=start,
            end=end,
            label=lambda v: f"{v:,.0f}",
        ),
        "commands": line_chart(
            series["commands"],
            title="Redis commands per second",
            start=start,
            end=end,
            label=lambda v: f"{v:,.0f}",
        ),
        "memory": line_chart(
            series["memory"],
            title="Redis memory used",
            start=start,
            end=end,
            label=lambda v: filesizeformat(v),
        ),
    }


def _operator() -> dict[str, Any]:
    return cache_operator_view()


def context(hours: int = CHART_HOURS) -> dict[str, Any]:
    """Template context of the dashboard page; never raises for Redis being down."""
    snap = snapshot()
    overall = snap["overall"]
    return {
        "snap": snap,
        "overall": overall,
        "hit_rate": percent(overall["hit_rate"]),
        "memory": _memory(snap["redis"]["total"]),
        "nodes": [
            {**node, "used": filesizeformat(node.get("used_memory", 0))}
            for node in snap["redis"]["nodes"]
        ],
        "latency": [
            latency_row("Cache reads", overall["read_latency"]),
            latency_row("Loads", overall["load_latency"]),
        ],
        "namespaces": _namespace_rows(snap),
        "show_near_hits": any(row["near_hits"] for row in snap["namespaces"]),
        "charts": _charts(hours, snap),
        "chart_hours": hours,
        "ranges": RANGES,
        "refresh_choices": REFRESH_CHOICES,
        "operator": _operator(),
        "time_zone": timezone.get_current_timezone_name(),
        "taken_at": timezone.localtime(datetime.fromisoformat(snap["taken_at"])),
    }
