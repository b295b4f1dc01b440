"""The periodic snapshot task runs in a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from django_distcache.models import StatsSnapshot

ROOT = Path(__file__).resolve().parent.parent
BROKER_DB = 14


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_a_snapshot():
    broker = f"{settings.REDIS_URL}/{BROKER_DB}"
    env = {
        **os.environ,
        "DISTCACHE_TEST_BROKER_URL": broker,
        # The worker uses the database this test runs on.
        "DISTCACHE_TEST_DB_NAME": connection.settings_dict["NAME"],
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.stats_celery_app",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["DISTCACHE_TEST_BROKER_URL"] = broker
    from tests.stats_celery_app import app

    try:
        app.send_task("django_distcache.record_stats_snapshot")
        deadline = time.monotonic() + 30
        while not StatsSnapshot.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        snapshot = StatsSnapshot.objects.last()
        assert snapshot is not None, "the worker stored no snapshot within 30 s"
        assert snapshot.data["used_memory"] > 0
    finally:
        app.close()
        del os.environ["DISTCACHE_TEST_BROKER_URL"]
        worker.terminate()
        worker.wait(timeout=20)
