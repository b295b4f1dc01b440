"""Prometheus exposition of the statistics (extra ``[prometheus]``: prometheus-client).

Add ``path("metrics/", metrics_view)`` to the URLconf, behind whatever protects your
other scrape targets, or register ``DistcacheCollector()`` in your own registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from django_distcache.redis import breaker
from django_distcache.redis.errors import RedisError
from django_distcache.stats import recorder
from django_distcache.stats.histogram import BOUNDS
from django_distcache.stats.outages import outbox_figures
from django_distcache.stats.redis_info import FIELDS, redis_figures

COUNTERS = {
    "hits": "Reads served from Redis",
    "misses": "Reads that found no entry",
    "near_hits": "Reads served from a near cache",
    "loads": "Loader calls (database queries or functions)",
    "sets": "Entries stored",
    "invalidations": "Invalidations (entries dropped or namespaces bumped)",
    "waits": "Reads that waited for another process's load",
    "wait_timeouts": "Waits that gave up and loaded themselves",
    "evictions": "Keys evicted by Redis (with the eviction listener)",
    "warm_runs": "Warming runs",
}
REDIS_COUNTERS = {
    "evicted_keys",
    "expired_keys",
    "keyspace_hits",
    "keyspace_misses",
    "commands_processed",
}
# Outage events counted by every process under the breaker's namespace: metric, help.
OUTAGE_COUNTERS = {
    "trips": ("distcache_breaker_trips", "Times a circuit breaker opened"),
    "bypassed": (
        "distcache_breaker_bypassed",
        "Calls that did not go to Redis because its breaker was open (reads answered by "
        "the database, invalidations kept in the outbox, other calls failed at once)",
    ),
    "outbox_kept": (
        "distcache_outbox_kept",
        "Invalidations that did not reach Redis and were kept in the outbox",
    ),
    "outbox_replayed": (
        "distcache_outbox_replayed",
        "Outbox rows applied to Redis by a replay (the task or a recovery)",
    ),
    "invalidations_lost": (
        "distcache_invalidations_lost",
        "Invalidations neither Redis nor the outbox could take",
    ),
    "lost_state": (
        "distcache_redis_lost_state",
        "Times Redis was found to have lost invalidations (older snapshot, promoted replica)",
    ),
    "cache_emptied": (
        "distcache_cache_emptied",
        "Times every entry was dropped at once (epoch bump) by a replay",
    ),
}


def _outage_metrics(flushed: dict[str, Any] | None) -> Iterator[Metric]:
    """Breakers of this process (state, current opening) and the outbox (read from the
    database), then the outage counters of every process (read from Redis, when up)."""
    state = GaugeMetricFamily(
        "distcache_breaker_state",
        "Circuit breaker of a Redis in this process: 1 for its current state",
        labels=["redis", "state"],
    )
    open_for = GaugeMetricFamily(
        "distcache_breaker_open_for_seconds",
        "Seconds the circuit breaker of a Redis in this process has been open (0 if closed)",
        labels=["redis"],
    )
    for row in breaker.figures():
        for name in (breaker.CLOSED, breaker.OPEN, breaker.PROBING):
            state.add_metric([row["redis"], name], 1.0 if row["state"] == name else 0.0)
        open_for.add_metric([row["redis"]], row["open_for"])
    yield state
    yield open_for
    box = outbox_figures()
    if box["error"] is None:
        yield GaugeMetricFamily(
            "distcache_outbox_waiting",
            "Invalidations waiting in the outbox for Redis",
            value=box["waiting"],
        )
        yield GaugeMetricFamily(
            "distcache_outbox_oldest_age_seconds",
            "Age of the oldest invalidation waiting in the outbox (0 if none waits)",
            value=box["oldest_age"] or 0.0,
        )
    if flushed is None:
        return
    counted = flushed["counts"].get(breaker.BREAKER_NAMESPACE, {})
    for event, (name, doc) in OUTAGE_COUNTERS.items():
        yield CounterMetricFamily(name, doc, value=counted.get(event, 0))
    yield CounterMetricFamily(
        "distcache_breaker_open_seconds",
        "Seconds circuit breakers were open, over the openings that have ended",
        value=counted.get("open_ms", 0) / 1000,
    )


def _histogram(name: str, doc: str, flushed: dict[str, Any], kind: str) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=["namespace"])
    for (latency, namespace), counts in sorted(flushed["buckets"].items()):
        if latency != kind:
            continue
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, BOUNDS), "+Inf"], counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        family.add_metric(
            [namespace], buckets, sum_value=flushed["seconds"].get((kind, namespace), 0.0)
        )
    return family


class DistcacheCollector:
    """Collects the merged statistics of all processes, this process's breakers, the
    outbox and Redis INFO at scrape time."""

    def collect(self) -> Iterator[Metric]:
        recorder.flush()
        try:
            flushed = recorder.read_flushed()
        except RedisError:
            flushed = None
        up = GaugeMetricFamily("distcache_redis_up", "Whether the cache's Redis answers")
        figures = redis_figures()
        up.add_metric([], 1.0 if figures["available"] else 0.0)
        yield up
        if flushed is not None:
            for event, doc in COUNTERS.items():
                counter = CounterMetricFamily(f"distcache_{event}", doc, labels=["namespace"])
                for namespace, counts in sorted(flushed["counts"].items()):
                    if event in counts:
                        counter.add_metric([namespace], counts[event])
                yield counter
            yield _histogram("distcache_read_seconds", "Latency of cache reads", flushed, "read")
            yield _histogram("distcache_load_seconds", "Duration of loads", flushed, "load")
        yield from _outage_metrics(flushed)
        for label in FIELDS.values():
            name = f"distcache_redis_{label}"
            family: Metric = (
                CounterMetricFamily(name, f"Redis INFO {label}", labels=["node"])
                if label in REDIS_COUNTERS
                else GaugeMetricFamily(name, f"Redis INFO {label}", labels=["node"])
            )
            for node in figures["nodes"]:
                if node["available"]:
                    family.add_metric([node["node"]], node[label])  # type: ignore[attr-defined]
            yield family


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of the cache statistics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DistcacheCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
