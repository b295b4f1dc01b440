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
from redis.exceptions import RedisError

from django_distcache.stats import recorder
from django_distcache.stats.histogram import BOUNDS
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
    """Collects the merged statistics of all processes and Redis INFO at scrape time."""

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
