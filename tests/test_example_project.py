"""The example project's `make demo` tour runs on a fresh database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def test_demo_tour_runs_and_shows_fresh_data_after_writes(tmp_path):
    env = {
        **os.environ,
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "shopsite.settings",
        # a fresh namespace in the shared Redis, like the fresh database
        "SHOP_CACHE_PREFIX": f"shoptest{os.getpid()}x{time.time_ns()}",
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "demo", "--no-server"],
            cwd=EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shop_redis = redis.Redis.from_url(f"{settings.REDIS_URL}/1")
        for key in shop_redis.scan_iter(match=f"{env['SHOP_CACHE_PREFIX']}:*"):
            shop_redis.unlink(key)
        shop_redis.close()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    hit = next(line for line in lines if "second read (hit" in line)
    assert hit.endswith("0 SQL queries")
    assert "price is now 10.90 (the saved value)" in result.stdout
    assert "catalogue shows 10.90" in result.stdout
    assert "stock is now 5 " in result.stdout
    assert "after 5 increments: get_object says 5, the database 0" in result.stdout
    assert "flushed: 5 writes in 1 row update; the database says 5" in result.stdout
    assert "15 products cached" in result.stdout
    assert "Tour done." in result.stdout
