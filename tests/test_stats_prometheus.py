"""The Prometheus exposition of the statistics (extra [prometheus])."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

import django_distcache

prometheus = pytest.importorskip("django_distcache.stats.prometheus")


@pytest.mark.django_db
@pytest.mark.usefixtures("app_cache")
def test_metrics_view_exposes_counters_histograms_and_redis_figures():
    django_distcache.get_or_set("a", lambda: 1)
    django_distcache.get_or_set("a", lambda: 1)
    response = prometheus.metrics_view(RequestFactory().get("/metrics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'distcache_hits_total{namespace="get_or_set"} 1.0' in text
    assert 'distcache_misses_total{namespace="get_or_set"} 1.0' in text
    assert 'distcache_read_seconds_count{namespace="get_or_set"} 2.0' in text
    assert 'distcache_read_seconds_bucket{le="+Inf",namespace="get_or_set"} 2.0' in text
    assert "distcache_redis_up 1.0" in text
    assert "distcache_redis_used_memory{node=" in text
    assert "distcache_redis_evicted_keys_total{node=" in text
