"""Statistics are counted in-process and reach Redis in batches, adding up across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

import django_distcache
from django_distcache import stats
from django_distcache.redis import breaker
from django_distcache.stats import recorder
from tests.cache_override import cache_on

ROOT = Path(__file__).resolve().parent.parent


def _flushed_counts(namespace: str) -> dict[str, int]:
    return recorder.read_flushed()["counts"].get(namespace, {})


def _workload(
    name: str, keys: int, reads: int, *extra: str, overrides: str = "{}"
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stats_workload", name, str(keys), str(reads), *extra],
        cwd=ROOT,
        env={**os.environ, "DISTCACHE_TEST_OVERRIDES": overrides},
        stdout=subprocess.PIPE,
        text=True,
    )


def test_counts_of_two_processes_add_up():
    first, second = _workload("one", 40, 5), _workload("two", 30, 4)
    for process in (first, second):
        process.communicate(timeout=60)
        assert process.returncode == 0
    counts = _flushed_counts("get_or_set")
    assert counts["misses"] == 40 + 30
    assert counts["hits"] == 40 * 4 + 30 * 3
    assert counts["loads"] == 70
    assert counts["sets"] == 70
    hist = recorder.read_flushed()["buckets"][("read", "get_or_set")]
    assert sum(hist) == 40 * 5 + 30 * 4


def test_a_running_process_flushes_within_seconds_without_being_asked():
    process = _workload("idle", 10, 3, "--stay", "120")
    try:
        assert process.stdout.readline().strip() == "done"
        deadline = time.monotonic() + 30  # guards against a hang only
        while _flushed_counts("get_or_set").get("hits") != 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "the workload exited: its exit flush proves nothing"
        assert _flushed_counts("get_or_set") == {
            "hits": 20,
            "misses": 10,
            "loads": 10,
            "sets": 10,
        }
    finally:
        process.kill()
        process.communicate()


def test_recording_costs_no_round_trip_until_a_flush(raw_redis):
    with recorder._flush_lock:  # the background flusher waits meanwhile
        django_distcache.get_or_set("a", lambda: 1)
        django_distcache.get_or_set("a", lambda: 1)
        assert stats.local_counts()[("get_or_set", "hits")] == 1
        assert not raw_redis.exists(recorder.stats_key()) or (
            "hits" not in _flushed_counts("get_or_set")
        )
    assert stats.flush()
    assert _flushed_counts("get_or_set")["hits"] == 1
    assert stats.local_counts() == {}


def test_many_events_wake_the_flusher_early():
    # The flusher's first wait is an hour long: only the wake-up after
    # STATS_FLUSH_EVERY (7 in the workload) events can flush while the process stays.
    hour = json.dumps({"STATS_FLUSH_INTERVAL": 3600})
    process = _workload("woken", 10, 3, "--stay", "60", overrides=hour)
    try:
        assert process.stdout.readline().strip() == "done"
        deadline = time.monotonic() + 30  # guards against a hang only
        while not _flushed_counts("get_or_set").get("hits") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the workload exited: its exit flush proves nothing"
        flushed = _flushed_counts("get_or_set")
        assert 0 < flushed["hits"] <= 20
    finally:
        process.kill()
        process.communicate()


# The first connection to a new server replays the outbox (the database) before use.
@pytest.mark.django_db
def test_counts_wait_in_the_process_while_redis_is_down(redis_process):
    server = redis_process()
    with cache_on(server.url):
        server.stop()
        stats.record_hit("ns", 0.001)
        stats.record_miss("ns", 0.002)
        assert stats.flush() is False
        # the breaker counts its opening with the rest
        assert stats.local_counts() == {
            ("ns", "hits"): 1,
            ("ns", "misses"): 1,
            ("redis", "trips"): 1,
        }
        server.start()
        breaker.reset()  # what the breaker's probe does once Redis answers (test_outages)
        assert stats.flush() is True
        assert _flushed_counts("ns") == {"hits": 1, "misses": 1}


def test_disabled_statistics_record_nothing():
    with override_settings(DISTCACHE={**settings.DISTCACHE, "STATS_ENABLED": False}):
        django_distcache.get_or_set("a", lambda: 1)
        stats.record_set("ns")
    assert stats.local_counts() == {}


@pytest.mark.django_db(transaction=True)
def test_invalidations_are_counted_per_namespace():
    from tests.factories import ProductFactory

    product = ProductFactory()  # saves a category and a product
    product.name = "renamed"
    product.save()
    django_distcache.invalidate_tag("prices")
    # the background flusher may already have sent some of them: read the totals
    stats.flush()
    totals = {row["namespace"]: row for row in stats.snapshot()["namespaces"]}
    assert totals["testapp.product"]["invalidations"] == 2
    assert totals["testapp.category"]["invalidations"] == 1
    assert totals["tag:prices"]["invalidations"] == 1


def test_a_forked_child_does_not_count_its_parents_events_again():
    with recorder._flush_lock:  # the background flusher waits meanwhile
        stats.record_hit("ns", 0.0)
        pid = os.fork()
        if pid == 0:
            code = 0 if stats.local_counts() == {} else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert stats.local_counts() == {("ns", "hits"): 1}
