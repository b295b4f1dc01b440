"""Outage figures in the Prometheus exposition: breakers, time open, bypassed calls, the outbox."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory

import django_distcache
from django_distcache import stats
from django_distcache.redis import breaker
from tests.test_outages import app_on, rename, wait_until_cache_used_again
from tests.testapp.models import Category

prometheus = pytest.importorskip("django_distcache.stats.prometheus")
pytestmark = pytest.mark.django_db(transaction=True)


def scrape() -> dict[str, float]:
    """The exposition's samples: ``'name{labels}'`` -> value."""
    response = prometheus.metrics_view(RequestFactory().get("/metrics"))
    assert response.status_code == 200
    samples = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_an_outage_is_scraped_while_it_lasts_and_counted_after(redis_process):
    server = redis_process()
    pks = [Category.objects.create(name=f"c{i}-v0").pk for i in range(3)]
    with app_on(server.url, RETRY_REDIS_AFTER=0.2):
        for pk in pks:
            django_distcache.get_object(Category, pk)
        before = scrape()
        assert before['distcache_breaker_state{redis="default",state="closed"}'] == 1.0
        assert before['distcache_breaker_state{redis="default",state="open"}'] == 0.0
        assert before['distcache_breaker_open_for_seconds{redis="default"}'] == 0.0
        assert before["distcache_outbox_waiting"] == 0.0
        assert before["distcache_breaker_trips_total"] == 0.0

        server.stop()
        for pk in pks:  # the first trips the breaker, the others bypass Redis
            assert django_distcache.get_object(Category, pk).name.endswith("-v0")
        rename(pks[0], 1)
        rename(pks[1], 1, atomic=False)
        during = scrape()
        assert during["distcache_redis_up"] == 0.0
        open_now = [
            during[f'distcache_breaker_state{{redis="default",state="{state}"}}']
            for state in ("open", "probing")
        ]
        assert sum(open_now) == 1.0
        assert during['distcache_breaker_state{redis="default",state="closed"}'] == 0.0
        assert during['distcache_breaker_open_for_seconds{redis="default"}'] > 0.0
        assert during["distcache_outbox_waiting"] == 2.0
        assert during["distcache_outbox_oldest_age_seconds"] > 0.0
        # The counters of every process live in Redis: not scraped while it is down.
        assert "distcache_breaker_trips_total" not in during

        server.start()  # empty
        wait_until_cache_used_again()
        assert stats.flush()
        after = scrape()
        assert after['distcache_breaker_state{redis="default",state="closed"}'] == 1.0
        assert after['distcache_breaker_open_for_seconds{redis="default"}'] == 0.0
        assert after["distcache_outbox_waiting"] == 0.0
        assert after["distcache_outbox_oldest_age_seconds"] == 0.0
        figures = breaker.cache_breaker().figures()
        assert after["distcache_breaker_trips_total"] == 1.0
        assert after["distcache_breaker_bypassed_total"] == figures["bypassed"] >= 2
        assert after["distcache_outbox_kept_total"] == 2.0
        assert after["distcache_outbox_replayed_total"] == 2.0
        assert after["distcache_invalidations_lost_total"] == 0.0
        assert after["distcache_breaker_open_seconds_total"] == pytest.approx(
            figures["seconds_open"], abs=0.01
        )
        assert after["distcache_breaker_open_seconds_total"] > 0


def test_every_outage_metric_has_help_type_and_a_sample():
    django_distcache.get_or_set("k", lambda: 1)  # the cache's breaker exists
    text = prometheus.metrics_view(RequestFactory().get("/metrics")).content.decode()
    gauges = [
        "distcache_breaker_state",
        "distcache_breaker_open_for_seconds",
        "distcache_outbox_waiting",
        "distcache_outbox_oldest_age_seconds",
    ]
    counters = [
        *(metric for metric, _doc in prometheus.OUTAGE_COUNTERS.values()),
        "distcache_breaker_open_seconds",
    ]
    for name, kind in [
        *((g, "gauge") for g in gauges),
        *((f"{c}_total", "counter") for c in counters),
    ]:
        assert re.search(rf"^# HELP {name} \S", text, re.MULTILINE), name
        assert re.search(rf"^# TYPE {name} {kind}$", text, re.MULTILINE), name
        assert re.search(rf"^{name}(\{{.*\}})? \d", text, re.MULTILINE), name
