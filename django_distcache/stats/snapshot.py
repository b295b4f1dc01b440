"""The current statistics of every process, merged, with Redis INFO and the queues."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from django_distcache.redis.breaker import BREAKER_NAMESPACE
from django_distcache.redis.errors import RedisError
from django_distcache.stats import evictions, history, recorder
from django_distcache.stats.health import health_warnings
from django_distcache.stats.histogram import BUCKETS, merge, percentiles
from django_distcache.stats.outages import outages
from django_distcache.stats.redis_info import redis_figures

logger = logging.getLogger("django_distcache")

EVENTS = (
    "hits",
    "misses",
    "near_hits",
    "loads",
    "sets",
    "invalidations",
    "waits",
    "wait_timeouts",
    "evictions",
    "warm_runs",
)
READ, LOAD = "read", "load"


def _row(namespace: str, counts: dict[str, int], flushed: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"namespace": namespace}
    row.update({event: counts.get(event, 0) for event in EVENTS})
    row["reads"] = row["hits"] + row["misses"] + row["near_hits"]
    served = row["hits"] + row["near_hits"]
    row["hit_rate"] = served / row["reads"] if row["reads"] else None
    row["load_seconds"] = flushed["seconds"].get((LOAD, namespace), 0.0)
    row["read_latency"] = percentiles(flushed["buckets"].get((READ, namespace), [0] * BUCKETS))
    row["load_latency"] = percentiles(flushed["buckets"].get((LOAD, namespace), [0] * BUCKETS))
    return row


def _overall(rows: list[dict[str, Any]], flushed: dict[str, Any]) -> dict[str, Any]:
    overall: dict[str, Any] = {event: sum(row[event] for row in rows) for event in EVENTS}
    overall["reads"] = sum(row["reads"] for row in rows)
    served = overall["hits"] + overall["near_hits"]
    overall["hit_rate"] = served / overall["reads"] if overall["reads"] else None
    overall["load_seconds"] = sum(row["load_seconds"] for row in rows)
    for kind in (READ, LOAD):
        hists = [counts for (k, _ns), counts in flushed["buckets"].items() if k == kind]
        overall[f"{kind}_latency"] = percentiles(merge(hists))
    return overall


def _optional(module: str, call: Any) -> dict[str, Any]:
    """Call into a module that may not be installed or reachable; report how it went."""
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        return {"available": False, "error": f"{module} is not installed"}
    try:
        return {"available": True, "error": None, **call(loaded)}
    except (RedisError, DatabaseError, OSError) as exc:
        return {"available": False, "error": str(exc)}


def write_behind() -> dict[str, Any]:
    """``{"available", "error", "models": backlog()}`` of the write-behind queues."""
    return _optional("django_distcache.writebehind", lambda wb: {"models": list(wb.backlog())})


def warming(limit: int = 10) -> dict[str, Any]:
    """``{"available", "error", "warmers", "runs"}`` of the cache warmers."""
    return _optional(
        "django_distcache.warming",
        lambda w: {"warmers": list(w.warmer_names()), "runs": list(w.recent_runs(limit=limit))},
    )


def _evictions_trend(now: float, total: dict[str, Any]) -> dict[str, Any] | None:
    try:
        last = history.latest()
    except DatabaseError:
        return None
    if last is None or "evicted_keys" not in total:
        return None
    taken_at, data = last
    current, before = total["evicted_keys"], data.get("evicted_keys", 0)
    return {
        "since": taken_at.isoformat(),
        "seconds": max(0.0, now - taken_at.timestamp()),
        "evicted": current - before if current >= before else current,
    }


def _listener() -> dict[str, Any]:
    try:
        return evictions.listener_status()
    except RedisError:
        return {"running": False}


def snapshot() -> dict[str, Any]:
    """Current statistics of all processes (this one flushed first), Redis figures,
    write-behind and warming, and the health warnings they deserve. JSON-safe."""
    recorder.flush()
    now = time.time()
    redis = redis_figures()
    stats_error = None
    try:
        flushed = recorder.read_flushed()
    except RedisError as exc:
        # Only this process's unflushed counts are known without Redis.
        stats_error = str(exc)
        flushed = recorder.parse((recorder.field_name(f), v) for f, v in recorder.pending().items())
    outage_section = outages(flushed["counts"])
    namespaces = {
        ns: _row(ns, counts, flushed)
        for ns, counts in sorted(flushed["counts"].items())
        if ns != BREAKER_NAMESPACE
    }
    wb = write_behind()
    for model in wb.get("models", []):
        row = namespaces.setdefault(model["model"], _row(model["model"], {}, flushed))
        row["write_behind_pending"] = model.get("pending", 0)
        row["write_behind_oldest_age"] = model.get("oldest_age")
    rows = list(namespaces.values())
    snap: dict[str, Any] = {
        "taken_at": timezone.now().isoformat(),
        "redis": redis,
        "stats_source": "redis" if stats_error is None else "this process only",
        "stats_error": stats_error,
        "namespaces": rows,
        "overall": _overall(rows, flushed),
        "evictions_listener": _listener() if redis["available"] else {"running": False},
        "evictions_trend": _evictions_trend(now, redis["total"]) if redis["available"] else None,
        "write_behind": wb,
        "warming": warming(),
        "outages": outage_section,
    }
    snap["warnings"] = health_warnings(snap)
    return snap
