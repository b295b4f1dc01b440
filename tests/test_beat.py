"""beat_schedule(): the entries it builds, and warmers run by a real beat and worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from django_distcache.beat import BEAT_SCHEDULE, WARM_TASK, beat_schedule
from django_distcache.warming import recent_runs
from tests.factories import CategoryFactory
from tests.workers import ROOT, worker_env


def test_warming_is_scheduled_only_when_asked():
    assert "distcache-warm-cache" not in BEAT_SCHEDULE
    entry = beat_schedule(warm_every=600, warmers=["hot_objects"])["distcache-warm-cache"]
    assert entry == {
        "task": WARM_TASK,
        "schedule": 600,
        "args": (["hot_objects"],),
        # a run left in the queue longer than the interval is superseded by the next
        "options": {"queue": "distcache", "expires": 600},
    }
    assert beat_schedule(warm_every=60)["distcache-warm-cache"]["args"] == (None,)
    assert "distcache-stats-snapshot" not in beat_schedule(snapshot_every=None)


@pytest.mark.django_db(transaction=True)
def test_beat_runs_the_warmers_every_warm_every_seconds(start_worker, tmp_path):
    CategoryFactory.create_batch(2)
    start_worker("warmer")
    schedule = {"warm_every": 1, "warmers": ["categories"], "snapshot_every": None}
    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "beat", "-l", "info"]
    with (tmp_path / "beat.log").open("wb") as log:
        beat = subprocess.Popen(
            [*command, "-s", str(tmp_path / "schedule")],
            cwd=ROOT,
            env={**worker_env(), "DISTCACHE_TEST_BEAT": json.dumps(schedule)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60  # guards against a hang only
        while len(recent_runs(5)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        beat.terminate()
        beat.wait(timeout=10)
    runs = recent_runs(5)
    assert len(runs) >= 2, (tmp_path / "beat.log").read_text()
    assert {run["name"] for run in runs} == {"categories"}
    assert all(run["entries"] == 2 for run in runs)
