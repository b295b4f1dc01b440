"""Stored snapshots: bounded retention, chart series from deltas, SVG charts."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

import django_distcache
from django_distcache.charts import line_chart
from django_distcache.models import StatsSnapshot
from django_distcache.stats import history
from django_distcache.stats_tasks import record_stats_snapshot
from tests.cache_override import cache_on

pytestmark = pytest.mark.django_db


def _data(hits: int, misses: int, evicted: int = 0, memory: int = 1000) -> dict:
    return {
        "redis_available": True,
        "hits": hits,
        "misses": misses,
        "evicted_keys": evicted,
        "expired_keys": 0,
        "used_memory": memory,
        "maxmemory": 0,
        "namespaces": {},
    }


def test_the_task_stores_a_snapshot_and_drops_those_past_retention():
    old = StatsSnapshot.objects.create(
        taken_at=timezone.now() - timedelta(hours=30), data=_data(0, 0)
    )
    django_distcache.get_or_set("a", lambda: 1)
    django_distcache.get_or_set("a", lambda: 1)
    with override_settings(DISTCACHE={**settings.DISTCACHE, "STATS_HISTORY_RETENTION": 86400}):
        pk = record_stats_snapshot()
    assert not StatsSnapshot.objects.filter(pk=old.pk).exists()
    stored = StatsSnapshot.objects.get(pk=pk).data
    assert (stored["hits"], stored["misses"]) == (1, 1)
    assert stored["namespaces"] == {"get_or_set": [1, 1]}
    assert stored["used_memory"] > 0


def test_series_are_per_interval_and_survive_counter_resets():
    now = timezone.now()
    points = [
        (now - timedelta(minutes=3), _data(100, 100, evicted=5)),
        (now - timedelta(minutes=2), _data(190, 110, evicted=9)),
        (now - timedelta(minutes=1), _data(20, 0, evicted=2)),  # Redis restarted
    ]
    series = history.series(points)
    assert [v for _, v in series["hit_rate"]] == [0.9, 1.0]
    assert [v for _, v in series["evictions"]] == [4, 2]
    assert [v for _, v in series["memory"]] == [1000, 1000, 1000]


def _evict_some(client: redis.Redis, start: int) -> int:
    """Write entries with a TTL into a full Redis until some are evicted; evicted_keys after."""
    before = client.info("stats")["evicted_keys"]
    index = start
    while client.info("stats")["evicted_keys"] == before:
        client.set(f"dctest:filler:{index}", secrets.token_bytes(50_000), ex=600)
        index += 1
    return client.info("stats")["evicted_keys"]


def test_an_evictions_trend_counts_only_evictions_since_the_last_stored_snapshot(
    redis_process,
):
    from django_distcache.stats.snapshot import snapshot

    server = redis_process("--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru")
    client = redis.Redis(port=server.port)
    evicted_before = _evict_some(client, 0)
    StatsSnapshot.objects.create(
        taken_at=timezone.now() - timedelta(seconds=60),
        data=_data(0, 0, evicted=evicted_before),
    )
    _evict_some(client, 10_000)
    with cache_on(server.url):
        snap = snapshot()  # its own writes (statistics) may evict a few more
    trend, evicted_total = snap["evictions_trend"], snap["redis"]["total"]["evicted_keys"]
    assert evicted_before > 0
    assert trend["evicted"] == evicted_total - evicted_before
    assert 59 <= trend["seconds"] < 600


def test_charts_are_svg_drawn_on_the_server():
    now = timezone.now()
    points = [(now - timedelta(minutes=m), m / 10) for m in (30, 20, 10)]
    svg = str(
        line_chart(points, title="Hit rate", start=now - timedelta(hours=1), end=now, label=str)
    )
    assert svg.startswith('<svg class="distcache-chart"')
    assert svg.count("<circle") == 3
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    empty = line_chart(points[:1], title="Hit rate", start=now, end=now, label=str)
    assert "not enough history yet" in empty


def test_commands_per_second_per_interval_from_the_commands_counter():
    now = timezone.now()
    points = [
        (now - timedelta(minutes=3), {**_data(0, 0), "commands_processed": 1_000}),
        (now - timedelta(minutes=2), {**_data(0, 0), "commands_processed": 7_000}),
        (now - timedelta(minutes=1), {**_data(0, 0), "commands_processed": 600}),  # restarted
        (now, _data(0, 0)),  # stored before snapshots kept the count
    ]
    assert [v for _, v in history.series(points)["commands"]] == [100.0, 10.0, None]
