"""Stampede benchmark: reader processes on one hot key across its expiry.

Run: ``python benchmarks/bench_stampede.py`` (with the services' env). READERS processes
read one ``get_or_set`` key in a loop for DURATION seconds; the entry lives TIMEOUT
seconds and its load takes LOAD seconds, so it expires (and is reloaded) about
DURATION / TIMEOUT times while they read. For each way of refreshing it: how many loads
ran, and how long reads took (a read that waited for a load takes about LOAD).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

READERS = int(os.environ.get("BENCH_READERS", "8"))
DURATION = float(os.environ.get("BENCH_DURATION", "12"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "4"))
LOAD = 0.2
KEY = "stampede"
LOADS = "dcbench:stampede:loads"

MODES = {
    "expiry only (lease)": {"EARLY_REFRESH_BETA": 0},
    "early refresh (XFetch, beta 1)": {"EARLY_REFRESH_BETA": 1.0},
    "stale-while-revalidate (thread)": {
        "EARLY_REFRESH_BETA": 0,
        "STALE_WHILE_REVALIDATE": 10,
        "REFRESH_IN": "thread",
    },
}


def _setup(overrides: dict):
    """Django set up with ``overrides`` of DISTCACHE; returns the override (to disable)."""
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    # Statistics stay in the process (no flush), where each reader counts its own waits.
    quiet = {"STATS_FLUSH_INTERVAL": 3600, "STATS_FLUSH_EVERY": 10**9, "TIMEOUT_JITTER": 0}
    override = override_settings(DISTCACHE={**settings.DISTCACHE, **quiet, **overrides})
    override.enable()
    return override


_loaded_here: list[int] = []


def _load() -> str:
    from django_distcache.redis.client import get_redis

    _loaded_here.append(1)
    get_redis().incr(LOADS)
    time.sleep(LOAD)  # the query this entry stands for
    return "value"


def _reader(overrides: dict, ready: Any, go: Any, out: multiprocessing.Queue) -> None:
    _setup(overrides)
    import django_distcache

    django_distcache.get_or_set(f"{KEY}-warm", lambda: 1)  # connected, scripts loaded
    samples = []
    ready.wait()  # every reader set up ...
    go.wait()  # ... and the entry cached
    from django_distcache import stats

    stats.reset_local()  # waits are counted from here on
    start = time.time()
    while time.time() < start + DURATION:
        began = time.perf_counter()
        loads_before = len(_loaded_here)
        django_distcache.get_or_set(KEY, _load, timeout=TIMEOUT)
        # (seconds, whether a load ran in this process meanwhile)
        samples.append((time.perf_counter() - began, len(_loaded_here) > loads_before))
        time.sleep(0.001)
    counts = stats.local_counts()
    out.put((samples, counts.get(("get_or_set", "waits"), 0)))


def run_mode(overrides: dict) -> dict:
    override = _setup(overrides)
    try:
        return _run(overrides)
    finally:
        override.disable()


def _run(overrides: dict) -> dict:
    import django_distcache
    from django_distcache.redis.client import get_redis

    redis = get_redis()
    redis.delete(LOADS)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready, go = context.Barrier(READERS + 1), context.Barrier(READERS + 1)
    # By module name, so spawned readers find it when run as __main__ or by run.py.
    from benchmarks.bench_stampede import _reader as read_hot_key

    readers = [
        context.Process(target=read_hot_key, args=(overrides, ready, go, out))
        for _ in range(READERS)
    ]
    for reader in readers:
        reader.start()
    ready.wait(120)
    django_distcache.get_or_set(KEY, _load, timeout=TIMEOUT)  # cached when they start
    primed = int(redis.get(LOADS) or 0)
    go.wait(120)
    samples, waits = [], 0
    for _ in readers:
        reader_samples, reader_waits = out.get()
        samples += reader_samples
        waits += reader_waits
    for reader in readers:
        reader.join()
    samples.sort()
    times = [seconds for seconds, _ in samples]
    return {
        "loads": int(redis.get(LOADS) or 0) - primed,
        "reads": len(samples),
        "p50_ms": times[len(times) // 2] * 1000,
        "p99_ms": times[int(len(times) * 0.99)] * 1000,
        "max_ms": times[-1] * 1000,
        "loaded": sum(1 for _, loaded in samples if loaded),
        # Reads that polled for another process's load (the read path counts them).
        "waited": waits,
    }


def main() -> None:
    import django

    django.setup()
    from django_distcache import keys
    from django_distcache.redis.client import get_redis

    print(
        f"{READERS} reader processes, one key, TIMEOUT {TIMEOUT:g} s, load {LOAD * 1000:.0f} ms, "
        f"{DURATION:g} s of reads"
    )
    print(
        f"{'refresh':<34}{'loads':>6}{'reads':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'loads in a reader':>19}{'waited for a load':>19}"
    )
    for name, overrides in MODES.items():
        get_redis().delete(keys.entry_base("key", "get_or_set", KEY))
        result = run_mode(overrides)
        print(
            f"{name:<34}{result['loads']:>6}{result['reads']:>7}{result['p50_ms']:>8.1f}"
            f"{result['p99_ms']:>8.1f}{result['max_ms']:>8.1f}{result['loaded']:>19}"
            f"{result['waited']:>19}"
        )


if __name__ == "__main__":
    main()
