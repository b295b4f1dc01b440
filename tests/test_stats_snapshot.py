"""snapshot(): merged statistics, percentiles, Redis INFO per node and summed, panels."""

from __future__ import annotations

import json
import sys

import pytest
from redis.exceptions import RedisError

import django_distcache
from django_distcache import stats
from django_distcache.stats.snapshot import snapshot
from tests.cache_override import cache_on
from tests.cluster import app_on_cluster

pytestmark = pytest.mark.django_db


def _row(snap: dict, namespace: str) -> dict:
    return next(row for row in snap["namespaces"] if row["namespace"] == namespace)


@pytest.mark.usefixtures("app_cache")
def test_snapshot_merges_counts_and_latency_of_reads_and_loads():
    for key in ("a", "b"):
        django_distcache.get_or_set(key, lambda: 1)
    for _ in range(6):
        django_distcache.get_or_set("a", lambda: 1)
    snap = snapshot()
    json.dumps(snap)  # stored and printed as JSON
    row = _row(snap, "get_or_set")
    assert (row["hits"], row["misses"], row["loads"], row["sets"]) == (6, 2, 2, 2)
    assert row["hit_rate"] == pytest.approx(0.75)
    assert snap["overall"]["hit_rate"] == pytest.approx(0.75)
    read = snap["overall"]["read_latency"]
    assert 0 < read["p50"] <= read["p95"] <= read["p99"] < 0.5
    assert snap["overall"]["load_latency"]["p50"] is not None
    assert snap["redis"]["available"] is True
    assert snap["redis"]["total"]["used_memory"] > 0
    assert snap["stats_source"] == "redis"


@pytest.mark.usefixtures("app_cache")
def test_snapshot_includes_counts_this_process_has_not_flushed():
    stats.record_hit("ns", 0.0002)
    assert _row(snapshot(), "ns")["hits"] == 1


def test_several_redis_nodes_are_shown_each_and_summed(redis_process):
    primary, replica = redis_process(), redis_process("--maxmemory", "64mb")
    with cache_on(primary.url, replica.url):
        snap = snapshot()
    nodes = snap["redis"]["nodes"]
    assert [node["node"] for node in nodes] == [
        f"127.0.0.1:{primary.port}/0",
        f"127.0.0.1:{replica.port}/0",
    ]
    assert nodes[1]["maxmemory"] == 64 * 1024 * 1024
    total = snap["redis"]["total"]
    assert total["used_memory"] == nodes[0]["used_memory"] + nodes[1]["used_memory"]
    assert total["connected_clients"] == sum(n["connected_clients"] for n in nodes)
    assert total["maxmemory"] == 0  # the primary has no limit
    assert total["nodes"] == total["nodes_available"] == 2


def test_a_clusters_primaries_are_shown_each_and_summed(settings, redis_cluster):
    app_on_cluster(settings, redis_cluster)
    snap = snapshot()
    nodes = snap["redis"]["nodes"]
    primaries = sorted(f"{node.address}/0" for node in redis_cluster.masters())
    assert sorted(node["node"] for node in nodes) == primaries
    assert all(node["available"] and node["used_memory"] > 0 for node in nodes)
    total = snap["redis"]["total"]
    assert total["used_memory"] == sum(node["used_memory"] for node in nodes)
    assert total["keyspace_hits"] == sum(node["keyspace_hits"] for node in nodes)
    assert total["nodes"] == total["nodes_available"] == 3
    assert snap["redis"]["available"] is True


def test_snapshot_of_a_stopped_redis_says_so(redis_process):
    server = redis_process()
    with cache_on(server.url):
        server.stop()
        stats.record_hit("ns", 0.0)
        snap = snapshot()
    assert snap["redis"]["available"] is False
    assert snap["stats_source"] == "this process only"
    assert _row(snap, "ns")["hits"] == 1
    assert snap["warnings"][0].startswith("Redis is unavailable:")


def test_memory_above_the_threshold_is_a_warning(redis_process):
    server = redis_process("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    with cache_on(server.url):
        from django_distcache.redis.client import get_redis

        filler = "x" * 100_000
        for index in range(40):
            try:
                get_redis().set(f"filler:{index}", filler)
            except RedisError:  # Redis refuses writes once full
                break
        snap = snapshot()
    (warning,) = [w for w in snap["warnings"] if "maxmemory" in w]
    assert f"Redis 127.0.0.1:{server.port}/0 uses" in warning
    assert "above 90.0%" in warning


def test_write_behind_and_warming_panels_say_when_they_are_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "django_distcache.writebehind", None)
    monkeypatch.setitem(sys.modules, "django_distcache.warming", None)
    snap = snapshot()
    assert snap["write_behind"]["available"] is False
    assert snap["warming"]["available"] is False
    assert "not installed" in snap["warming"]["error"]


@pytest.mark.django_db(transaction=True)
def test_batch_reads_count_hits_and_misses_without_latency_samples():
    from tests.factories import ProductFactory
    from tests.testapp.models import Product

    pks = [product.pk for product in ProductFactory.create_batch(3)]
    django_distcache.get_objects(Product, pks)  # three misses
    django_distcache.get_objects(Product, pks)  # three hits
    row = _row(snapshot(), "testapp.product")
    assert (row["hits"], row["misses"]) == (3, 3)
    assert row["read_latency"]["p50"] is None
