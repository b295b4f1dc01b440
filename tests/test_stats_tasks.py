"""The periodic snapshot task runs in a real Celery worker process."""

from __future__ import annotations

import time

import pytest

from django_distcache.beat import BEAT_SCHEDULE, SNAPSHOT_TASK
from django_distcache.models import StatsSnapshot


def test_beat_schedule_takes_a_snapshot_every_minute():
    entry = BEAT_SCHEDULE["distcache-stats-snapshot"]
    assert entry["task"] == SNAPSHOT_TASK
    assert entry["schedule"] == 60.0


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_a_snapshot(start_worker):
    from tests.celery_app import app

    start_worker()
    app.send_task(SNAPSHOT_TASK)
    deadline = time.monotonic() + 30
    while not StatsSnapshot.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    snapshot = StatsSnapshot.objects.last()
    assert snapshot is not None, "the worker stored no snapshot within 30 s"
    assert snapshot.data["used_memory"] > 0
