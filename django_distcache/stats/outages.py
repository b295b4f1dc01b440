"""Outage figures: breaker state, time open, bypassed calls, invalidations waiting or lost."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError

from django_distcache.redis import breaker

# Events the breaker and the outbox count under the "redis" namespace.
EVENTS = (
    "trips",
    "open_ms",
    "bypassed",
    "outbox_kept",
    "outbox_replayed",
    "invalidations_lost",
    "lost_state",
    "cache_emptied",
)


def outbox_figures() -> dict[str, Any]:
    """``{"waiting", "oldest_age", "error"}`` of the outbox (read from the database)."""
    from django_distcache import outbox

    try:
        return {**outbox.figures(), "error": None}
    except DatabaseError as exc:
        return {"waiting": None, "oldest_age": None, "error": str(exc)}


def outages(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The outage section of a snapshot; ``counts`` are the flushed counts by namespace."""
    counted = counts.get(breaker.BREAKER_NAMESPACE, {})
    totals: dict[str, float] = {event: counted.get(event, 0) for event in EVENTS}
    totals["open_seconds"] = round(totals.pop("open_ms") / 1000, 1)
    return {
        "state": breaker.cache_breaker().state,
        "breakers": breaker.figures(),
        "totals": totals,
        "outbox": outbox_figures(),
    }


def outage_warnings(section: dict[str, Any]) -> list[str]:
    """Warnings about an open breaker, waiting or lost invalidations, a Redis that lost state."""
    warnings = [
        f"Redis ({row['redis']}) is bypassed: the circuit breaker has been open for "
        f"{row['open_for']:.0f} s ({row['last_error']})."
        for row in section["breakers"]
        if row["state"] != breaker.CLOSED
    ]
    box = section["outbox"]
    if box["waiting"]:
        warnings.append(
            f"{box['waiting']} invalidations wait in the outbox for Redis (oldest "
            f"{box['oldest_age'] or 0:.0f} s); they are applied before the cache is used again."
        )
    if box["error"]:
        warnings.append(f"The outbox cannot be read: {box['error']}.")
    totals = section["totals"]
    if totals["invalidations_lost"]:
        warnings.append(
            f"{totals['invalidations_lost']} invalidations were lost (neither Redis nor the "
            "outbox could take them); see the log for the entries affected."
        )
    return warnings


def rows() -> list[dict[str, Any]]:
    """``distcache_stats`` rows: this process's breakers, then the outbox."""
    box = outbox_figures()
    found = [
        {k: row[k] for k in ("redis", "state", "open_for", "seconds_open", "trips", "bypassed")}
        for row in breaker.figures()
    ]
    found.append(
        {
            "redis": "outbox",
            "state": "waiting" if box["waiting"] else "empty",
            "waiting": box["waiting"],
            "oldest_age": None if box["oldest_age"] is None else round(box["oldest_age"], 1),
        }
    )
    return found
