"""``make bench``'s quick mode end to end: every section and system, one table, the JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
WRITES = ("0% writes", "5% writes", "20% writes")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the benchmarks run on PostgreSQL (DISTCACHE_TEST_DATABASE=sqlite)")
    path = tmp_path_factory.mktemp("bench") / "bench-results.json"
    suffix = os.environ.get("DISTCACHE_TEST_SUFFIX", "")
    env = {**os.environ, "DISTCACHE_BENCH_DB": f"distcache_bench{suffix}", "BENCH_QUICK": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--json", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(path.read_text())


def _rows(report: dict, section: str, variant: str = "") -> dict[str, dict]:
    return {
        row["system"]: row
        for row in report["rows"]
        if row["section"] == section and variant in row["variant"]
    }


def test_every_section_has_the_floor_no_cache_and_django_distcache(quick_run):
    _, report = quick_run
    assert report["quick"] is True
    for procs in ("1 process,", "2 processes,"):
        for writes in WRITES:
            rows = _rows(report, "mixed workload", f"{procs} {writes}")
            assert {"floor", "orm", "distcache"} <= set(rows), (procs, writes)
            assert set(rows) == set(report["systems"])
    for section in ("stampede", "warming"):
        assert set(report["systems"]) <= set(_rows(report, section))
    ingest = _rows(report, "write-behind ingest")
    assert set(ingest) == {"floor", "orm", "distcache"}
    assert ingest["distcache"]["queries"] == 0  # buffered: the database is not written yet
    assert ingest["orm"]["queries"] == ingest["orm"]["ops"]
    assert _rows(report, "write-behind flush")["distcache"]["ops"] > 0


def test_peers_and_the_near_cache_are_measured_or_named_as_skipped(quick_run):
    _, report = quick_run
    for system, label in (
        ("cacheops", "django-cacheops"),
        ("cachalot", "django-cachalot"),
        ("distcache_near", "django_distcache + near cache"),
    ):
        assert (system in report["systems"]) != (label in report["skipped"]), system


def test_django_distcache_reads_nothing_stale_and_loads_a_stampede_once(quick_run):
    _, report = quick_run
    for row in report["rows"]:
        if row["system"].startswith("distcache") and row["stale"] is not None:
            assert row["stale"] == 0, row
    stampede = _rows(report, "stampede")
    plan = report["plan"]
    assert stampede["orm"]["queries"] == plan["stampede_readers"] * plan["stampede_rounds"]
    assert stampede["distcache"]["queries"] < stampede["orm"]["queries"]
    assert stampede["distcache"]["ops"] == stampede["orm"]["queries"]


def test_one_table_with_ratios_against_the_floor_and_django_distcache(quick_run):
    stdout, report = quick_run
    header = next(line for line in stdout.splitlines() if "ops/s" in line)
    for column in ("p50 us", "p99 us", "q/1k ops", "stale", "x floor", "dc/this"):
        assert column in header
    assert ("dc+near/this" in header) == ("distcache_near" in report["systems"])
    assert "mixed workload | 2 processes, 20% writes" in stdout
    mixed = _rows(report, "mixed workload", "1 process, 0% writes")
    assert mixed["floor"]["vs_floor"] == 1.0
    assert mixed["distcache"]["distcache_vs_this"] == 1.0
    assert report["machine"]["load_average"]
