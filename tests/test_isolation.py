"""Two test runs share a machine: every database and Redis db they use follows the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SHOW = """
import json
from django.conf import settings
print(json.dumps({
    "database": settings.DATABASES["default"]["TEST"]["NAME"],
    "cache": settings.CACHES["default"]["LOCATION"],
    "broker": settings.CELERY_BROKER_URL,
    "results": settings.CELERY_RESULT_BACKEND,
}))
"""


def _settings_under(**env: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_each_resource_follows_its_variable():
    shown = _settings_under(
        DISTCACHE_TEST_SUFFIX="_other",
        DISTCACHE_TEST_REDIS_URL="redis://127.0.0.1:7000",
        DISTCACHE_TEST_REDIS_DB="3",
        DISTCACHE_TEST_CELERY_DB="5",
        DISTCACHE_TEST_DATABASE="postgresql",
    )
    assert shown == {
        "database": "test_distcache_other",
        "cache": "redis://127.0.0.1:7000/3",
        "broker": "redis://127.0.0.1:7000/5",
        "results": "redis://127.0.0.1:7000/6",
    }
