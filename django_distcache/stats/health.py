"""Health thresholds (HEALTH_* settings) turned into warnings that give their reason."""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import filesizeformat

from django_distcache.conf import get_settings
from django_distcache.stats.outages import outage_warnings


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _hit_rate_warnings(snap: dict[str, Any], min_rate: float, min_reads: int) -> list[str]:
    warnings = []
    rows = [("Overall", snap["overall"])]
    rows += [(f"Namespace {row['namespace']}", row) for row in snap["namespaces"]]
    for label, row in rows:
        rate = row.get("hit_rate")
        if rate is not None and row["reads"] >= min_reads and rate < min_rate:
            warnings.append(
                f"{label}: hit rate {_percent(rate)} is below {_percent(min_rate)} "
                f"({row['hits']} hits, {row['misses']} misses)."
            )
    return warnings


def _memory_warnings(snap: dict[str, Any], max_fraction: float) -> list[str]:
    warnings = []
    for node in snap["redis"]["nodes"]:
        if not node["available"] or not node["maxmemory"]:
            continue
        fraction = node["used_memory"] / node["maxmemory"]
        if fraction > max_fraction:
            warnings.append(
                f"Redis {node['node']} uses {_percent(fraction)} of maxmemory "
                f"({filesizeformat(node['used_memory'])} of {filesizeformat(node['maxmemory'])}), "
                f"above {_percent(max_fraction)}."
            )
    return warnings


def _eviction_warnings(snap: dict[str, Any]) -> list[str]:
    trend = snap.get("evictions_trend")
    if trend is None:
        evicted = snap["redis"]["total"].get("evicted_keys", 0)
        if evicted and snap["redis"]["available"]:
            return [
                f"Redis has evicted {evicted} keys since it started "
                "(no earlier snapshot to tell whether evictions are rising)."
            ]
        return []
    if trend["evicted"] > 0:
        return [
            f"Evictions are rising: {trend['evicted']} keys evicted in the last "
            f"{trend['seconds']:.0f} s; Redis is short of memory for the cache."
        ]
    return []


def _write_behind_warnings(snap: dict[str, Any], max_age: float) -> list[str]:
    warnings = []
    for row in snap["write_behind"].get("models", []):
        age = row.get("oldest_age")
        if age is not None and age > max_age:
            warnings.append(
                f"Write-behind backlog of {row['model']} is {age:.0f} s old "
                f"({row['pending']} pending), above {max_age:g} s."
            )
        if row.get("dead_letters"):
            warnings.append(
                f"Write-behind of {row['model']} has {row['dead_letters']} dead letters."
            )
    return warnings


def health_warnings(snap: dict[str, Any]) -> list[str]:
    """The warnings a snapshot (from ``snapshot()``) deserves, each with its reason."""
    conf = get_settings()
    redis = snap["redis"]
    outage = outage_warnings(snap["outages"]) if "outages" in snap else []
    if not redis["available"]:
        return [f"Redis is unavailable: {redis['error']}.", *outage]
    warnings = [
        f"Redis {node['node']} is unavailable: {node['error']}."
        for node in redis["nodes"]
        if not node["available"]
    ]
    if conf.HEALTH_MIN_HIT_RATE is not None:
        warnings += _hit_rate_warnings(snap, conf.HEALTH_MIN_HIT_RATE, conf.HEALTH_MIN_READS)
    if conf.HEALTH_MAX_MEMORY is not None:
        warnings += _memory_warnings(snap, conf.HEALTH_MAX_MEMORY)
    if conf.HEALTH_WARN_ON_EVICTIONS:
        warnings += _eviction_warnings(snap)
    if conf.HEALTH_MAX_BACKLOG_AGE is not None:
        warnings += _write_behind_warnings(snap, conf.HEALTH_MAX_BACKLOG_AGE)
    return warnings + outage
