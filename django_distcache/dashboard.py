"""What the admin dashboard shows: a snapshot made readable, charts of the history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from django_distcache.charts import line_chart
from django_distcache.stats import history
from django_distcache.stats.snapshot import snapshot

CHART_HOURS = 6
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


def _charts(hours: int) -> dict[str, Any]:
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
        "snapshots": len(points),
        "hit_rate": line_chart(
            series["hit_rate"], title="Hit rate", start=start, end=end, label=percent, y_max=1.0
        ),
        "evictions": line_chart(
            series["evictions"],
            title="Evicted keys per interval",
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
        "charts": _charts(hours),
        "chart_hours": hours,
        "taken_at": timezone.localtime(datetime.fromisoformat(snap["taken_at"])),
    }
