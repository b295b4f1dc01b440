"""The example shop: the tour on a fresh database, and `make demo`'s processes end to end."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
# the shop's cache and broker on database numbers the test suite does not use (this one and
# the next; two suites side by side give each its own)
_SHOP_DB = int(os.environ.get("DISTCACHE_TEST_SHOP_REDIS_DB", "10"))
SHOP_DBS = {"SHOP_CACHE_REDIS_DB": str(_SHOP_DB), "SHOP_BROKER_REDIS_DB": str(_SHOP_DB + 1)}


@pytest.fixture
def shop_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        **SHOP_DBS,
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "shopsite.settings",
        # a fresh namespace in the shared Redis, like the fresh database
        "SHOP_CACHE_PREFIX": f"shoptest{os.getpid()}x{time.time_ns()}",
    }
    yield env
    for number in SHOP_DBS.values():
        redis.Redis.from_url(f"{settings.REDIS_URL}/{number}").flushdb()


def test_demo_tour_runs_and_shows_fresh_data_after_writes(shop_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "demo"],
        cwd=EXAMPLE,
        env=shop_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Seeded 8 categories, 600 products, 5 tags, 3000 reviews." in out
    assert re.search(r"Admin login: admin / \S{10,}", out)
    hit = next(line for line in out.splitlines() if "second read (hit" in line)
    assert hit.endswith("0 SQL queries")
    saved = re.search(r"price is now (\S+) \(the saved value\)", out).group(1)
    assert f"catalogue shows {saved}" in out
    assert "after 5 increments: get_object says +5, the database +0" in out
    assert "flushed: 5 writes in 1 row update; the database says +5" in out
    assert "600 of 600 products cached" in out
    assert "Tour done." in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_until(process: subprocess.Popen[str], marker: str, seconds: float) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} in the demo's output:\n{''.join(lines)}")


def _log_in(site: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{site}/admin/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {
        "username": "admin",
        "password": password,
        "csrfmiddlewaretoken": token,
        "next": "/admin/",
    }
    opener.open(f"{site}/admin/login/", urllib.parse.urlencode(form).encode(), timeout=30)
    return opener


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_make_demo_serves_the_shop_and_a_live_dashboard_and_stops_everything(shop_env, tmp_path):
    port = _free_port()
    demo = subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--port", str(port), "--no-tour",
         "--log-dir", str(tmp_path / "logs"), "--snapshot-seconds", "5"],
        cwd=ROOT, env=shop_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out = _read_until(demo, "Ctrl-C stops them all", 240)
        assert f"Redis:    {settings.REDIS_URL}/{_SHOP_DB} (cache)" in out
        password = re.search(r"Admin login: admin / (\S+)", out).group(1)
        pids = [int(pid) for pid in re.findall(r"(?:worker|beat|server|traffic) (\d+)", out)]
        assert len(pids) == 4
        site = f"http://127.0.0.1:{port}"
        assert "Shop" in urllib.request.urlopen(f"{site}/", timeout=30).read().decode()
        opener = _log_in(site, password)
        dashboard = f"{site}/admin/django_distcache/dashboard/"
        deadline = time.monotonic() + 90
        hits = 0
        while hits == 0 and time.monotonic() < deadline:  # the traffic generator's reads
            page = opener.open(dashboard, timeout=30).read().decode()
            hits = int(re.search(r'id="overall-hits">(\d+)<', page).group(1))
        assert hits > 0
    finally:
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=60)[0]
    assert "Stopped." in rest
    assert demo.returncode == 0
    assert all(_gone(pid) for pid in pids), "the demo left processes behind"


def _readme_celery_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return [
        line.strip() for line in readme.splitlines() if line.startswith("    ../.venv/bin/celery")
    ]


@pytest.mark.parametrize(("role", "ready"), [("worker", "ready."), ("beat", "beat: Starting")])
def test_the_readmes_celery_commands_work_as_written(shop_env, tmp_path, role, ready):
    (command,) = [c for c in _readme_celery_commands() if f" {role} " in c]
    argv = command.split()
    if Path(sys.executable).parent.parent != ROOT / ".venv":
        pytest.skip("the README's commands name the .venv that make creates; this is another one")
    # the README's path from example_project/ to the virtual environment, as it is here
    assert (EXAMPLE / argv[0]).resolve() == (Path(sys.executable).parent / "celery").resolve()
    if role == "beat":
        argv += ["-s", str(tmp_path / "schedule")]
    process = subprocess.Popen(
        argv, cwd=EXAMPLE, env=shop_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _read_until(process, ready, 120)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)
