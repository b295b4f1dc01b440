"""health_warnings(): each threshold of the HEALTH_* settings, with its reason."""

from __future__ import annotations

from django.conf import settings
from django.test import override_settings

from django_distcache.stats import health_warnings


def _snap(**changes) -> dict:
    node = {
        "node": "127.0.0.1:6379/0",
        "available": True,
        "error": None,
        "used_memory": 1000,
        "maxmemory": 10_000,
        "evicted_keys": 0,
    }
    snap = {
        "redis": {"available": True, "error": None, "nodes": [node], "total": dict(node)},
        "overall": {"hits": 900, "misses": 100, "reads": 1000, "hit_rate": 0.9},
        "namespaces": [],
        "evictions_trend": None,
        "write_behind": {"available": False},
    }
    snap.update(changes)
    return snap


def test_a_healthy_snapshot_has_no_warnings():
    assert health_warnings(_snap()) == []


def test_hit_rate_below_the_threshold_once_there_are_enough_reads():
    low = {"hits": 70, "misses": 30, "reads": 100, "hit_rate": 0.7}
    assert health_warnings(_snap(overall=low)) == [
        "Overall: hit rate 70.0% is below 80.0% (70 hits, 30 misses)."
    ]
    few = {"hits": 7, "misses": 3, "reads": 10, "hit_rate": 0.7}
    assert health_warnings(_snap(overall=few)) == []
    row = {"namespace": "shop.product", **low}
    assert health_warnings(_snap(namespaces=[row]))[0].startswith("Namespace shop.product:")
    with override_settings(DISTCACHE={**settings.DISTCACHE, "HEALTH_MIN_HIT_RATE": 0.5}):
        assert health_warnings(_snap(overall=low)) == []


def test_memory_above_the_threshold():
    snap = _snap()
    snap["redis"]["nodes"][0]["used_memory"] = 9_500
    (warning,) = health_warnings(snap)
    assert warning.startswith("Redis 127.0.0.1:6379/0 uses 95.0% of maxmemory")


def test_rising_evictions():
    trend = {"since": "", "seconds": 60.0, "evicted": 12}
    assert health_warnings(_snap(evictions_trend=trend)) == [
        "Evictions are rising: 12 keys evicted in the last 60 s; "
        "Redis is short of memory for the cache."
    ]
    assert health_warnings(_snap(evictions_trend={**trend, "evicted": 0})) == []
    with override_settings(DISTCACHE={**settings.DISTCACHE, "HEALTH_WARN_ON_EVICTIONS": False}):
        assert health_warnings(_snap(evictions_trend=trend)) == []


def test_old_write_behind_backlog_and_dead_letters():
    models = [
        {"model": "shop.order", "pending": 4, "oldest_age": 75.0, "dead_letters": 0},
        {"model": "shop.cart", "pending": 1, "oldest_age": 2.0, "dead_letters": 3},
    ]
    assert health_warnings(_snap(write_behind={"available": True, "models": models})) == [
        "Write-behind backlog of shop.order is 75 s old (4 pending), above 60 s.",
        "Write-behind of shop.cart has 3 dead letters.",
    ]


def test_redis_down_is_the_one_warning():
    down = {"available": False, "error": "Connection refused", "nodes": [], "total": {}}
    assert health_warnings(_snap(redis=down)) == ["Redis is unavailable: Connection refused."]
