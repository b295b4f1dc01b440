"""What statistics cost the read path: cache hits per second with STATS_ENABLED on and off.

Run with the services' environment: ``set -a; . ./.services.env; set +a;
python benchmarks/bench_stats.py``. Rounds alternate on/off (and which goes first) so
drift of the machine or of Redis falls on both alike; prints both rates and the ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

import django_distcache  # noqa: E402
from django_distcache import stats  # noqa: E402
from django_distcache.redis.client import get_redis  # noqa: E402

PREFIX = "dcbench"
KEYS = 100
READS_PER_ROUND = int(os.environ.get("BENCH_READS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "80"))


def _settings(enabled: bool) -> dict:
    return {**settings.DISTCACHE, "KEY_PREFIX": PREFIX, "STATS_ENABLED": enabled}


def _read_round(reads: int) -> float:
    started = time.perf_counter()
    for index in range(reads):
        django_distcache.get_or_set(f"item-{index % KEYS}", lambda: {"price": 10})
    return reads / (time.perf_counter() - started)


def _record_cost(enabled: bool, calls: int = 200_000) -> float:
    with override_settings(DISTCACHE=_settings(enabled)):
        started = time.perf_counter()
        for _ in range(calls):
            stats.record_hit("bench", 0.0001)
        elapsed = time.perf_counter() - started
        stats.reset_local()
    return elapsed / calls * 1e9


def _clean() -> None:
    with override_settings(DISTCACHE=_settings(False)):
        redis = get_redis()
        for key in redis.scan_iter(f"{PREFIX}:*"):
            redis.delete(key)


def main() -> None:
    _clean()
    rates: dict[bool, list[float]] = {True: [], False: []}
    for enabled in (True, False):  # fill the entries, warm both paths
        with override_settings(DISTCACHE=_settings(enabled)):
            _read_round(KEYS * 3)
    for round_number in range(ROUNDS):
        order = (True, False) if round_number % 2 == 0 else (False, True)
        for enabled in order:
            with override_settings(DISTCACHE=_settings(enabled)):
                _read_round(50)  # untimed: the new settings' first calls
                rates[enabled].append(_read_round(READS_PER_ROUND))
    with override_settings(DISTCACHE=_settings(True)):
        stats.flush()
        flushed = stats.snapshot()["overall"]
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    # Each round's on and off ran back to back: their ratio is the least noisy figure.
    ratios = sorted(a / b for a, b in zip(rates[True], rates[False], strict=True))
    ratio = statistics.median(ratios)
    print(f"cache hits, one thread, {ROUNDS} interleaved rounds of {READS_PER_ROUND} reads")
    print(f"  statistics off: {off:10,.0f} reads/s (median)")
    print(f"  statistics on:  {on:10,.0f} reads/s (median)")
    print(
        f"  on/off ratio:   {ratio:10.3f}  median of rounds ({ratios[0]:.3f} to {ratios[-1]:.3f}); "
        f"cost {100 * (1 - ratio):+.1f}% of throughput"
    )
    cost_on, cost_off = _record_cost(True), _record_cost(False)
    print(f"  record_hit():   {cost_on:10,.0f} ns on, {cost_off:,.0f} ns off")
    print(f"  that is {100 * (cost_on - cost_off) * 1e-9 * off:.2f}% of one read's time")
    print(f"  counted hits flushed to Redis: {flushed['hits']:,}")
    _clean()


if __name__ == "__main__":
    main()
