"""A swapped user model (AUTH_USER_MODEL): the invalidation matrix in a pytest process of its own.

The main suite's settings keep ``auth.User``; ``tests/custom_user_matrix.py`` runs under
``tests.customuser_settings`` (``customuser.Member``, test databases of its own) against a
private redis-server, so it never meets this run's Redis db or databases.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.workers import ROOT


def test_the_matrix_on_a_swapped_user_model(redis_process):
    server = redis_process()
    env = {
        **os.environ,
        "DISTCACHE_TEST_REDIS_URL": f"redis://127.0.0.1:{server.port}",
        "DISTCACHE_TEST_REDIS_DB": "0",
        "DISTCACHE_TEST_CELERY_DB": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DISTCACHE_TEST_DB_NAME", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/custom_user_matrix.py",
            "--ds=tests.customuser_settings",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed is not None, done.stdout[-2000:]
    assert int(passed.group(1)) >= 27
    assert "failed" not in done.stdout
