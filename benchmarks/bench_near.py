"""Near cache benchmark: an L1 hit against a Redis hit and a bare GET; invalidation delivery.

Run: ``python benchmarks/bench_near.py`` (or ``python benchmarks/run.py bench_near``).
Part 1: get_object hits of 10,000 products (Zipf keys) served by the near cache, by Redis
(the same model with the near cache off: one read script with the generations), by Redis
after an L1 miss whose generations L1 holds (one GET of the entry), and a bare redis-py
GET of the same bytes, interleaved in one run. Part 2: another process's near cache
applying each of 500 invalidations made here: the time from just before the
invalidation is sent to when that process has applied it (both clocks are the
machine's wall clock).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import ROWS, prepare_products  # noqa: E402

INVALIDATIONS = int(os.environ.get("BENCH_NEAR_INVALIDATIONS", "500"))


def hits(pks: list[int]) -> None:
    import django_distcache
    from benchmarks.harness import report, run_interleaved, zipf_keys
    from django_distcache.keys import pk_text
    from django_distcache.reads.near import near_cache
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Product

    redis = get_redis()
    config = django_distcache.register(Product, near_cache=True)
    cache = near_cache()
    while not cache.live:
        time.sleep(0.005)

    def redis_hit(pk: int) -> object:
        config.near_cache = False
        try:
            return django_distcache.get_object(Product, pk)
        finally:
            config.near_cache = True

    def near_hit(pk: int) -> object:
        return django_distcache.get_object(Product, pk)

    def near_miss(pk: int) -> object:
        # Evicted from L1, its generations held: the entry alone is read (one GET) and kept.
        cache.evict(entry_keys[pk])
        return django_distcache.get_object(Product, pk)

    entry_keys = {pk: config.object_base(pk_text(Product, pk)) for pk in pks}
    for pk in pks:
        redis_hit(pk)  # every entry in Redis
    floor_keys = {}
    pipe = redis.pipeline(transaction=False)
    for pk in pks:
        floor_keys[pk] = f"dcbench:floor:{pk}"
        pipe.copy(config.object_base(pk), floor_keys[pk], replace=True)
    pipe.execute()
    contenders = {
        "redis-py GET (floor)": lambda pk: redis.get(floor_keys[pk]),
        "get_object, Redis hit": redis_hit,
        "get_object, L1 miss, one GET": near_miss,
        "get_object, near cache hit": near_hit,
    }
    keys = zipf_keys(pks, 2_000)
    for pk in set(keys):
        near_hit(pk)  # in L1 from here on
    run_interleaved(contenders, keys[:200], rounds=2)  # warm-up
    results = run_interleaved(contenders, keys, rounds=int(os.environ.get("BENCH_ROUNDS", "5")))
    print(f"get_object hits, {ROWS} products in PostgreSQL, Zipf keys, {len(keys)} reads x rounds")
    print(report(results, "redis-py GET (floor)", "get_object, near cache hit", "near hits"))
    print(f"near cache after the run: {cache.info()}")
    print(f"get_object, near cache hit in a loop of hits alone: {tight_hit_us(keys):.2f} us")


def tight_hit_us(keys: list[int]) -> float:
    """Microseconds per near-cache hit in a loop of hits alone (its code and data in
    the CPU's caches, unlike the interleaved run): the best of five loops over ``keys``."""
    import django_distcache
    from tests.testapp.models import Product

    get = django_distcache.get_object
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for pk in keys:
            get(Product, pk)
        best = min(best, (time.perf_counter_ns() - started) / len(keys))
    return best / 1000


def memory(pks: list[int]) -> None:
    """What the near cache holds for every product, counted by it and measured."""
    import gc
    import tracemalloc

    import django_distcache
    from django_distcache.reads.near import near_cache
    from tests.testapp.models import Product

    cache = near_cache()
    cache.clear(live=True)
    gc.collect()
    tracemalloc.start()
    for pk in pks:
        django_distcache.get_object(Product, pk)
    gc.collect()
    full = tracemalloc.get_traced_memory()[0]
    info = cache.info()
    cache.clear(live=True)
    gc.collect()
    empty = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(
        f"near cache memory: {info['entries']:,} products kept, {info['bytes']:,} bytes "
        f"counted, {full - empty:,} bytes freed when emptied (tracemalloc); "
        f"{info['bytes'] / max(1, info['entries']):,.0f} counted per entry"
    )


def delivery() -> None:
    from django_distcache import invalidate_objects
    from tests.testapp.models import Product

    listener = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.near_listener"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert listener.stdout is not None
    assert listener.stdin is not None
    try:
        if listener.stdout.readline().strip() != "ready":
            raise RuntimeError("the listener did not start")
        latencies = []
        for i in range(INVALIDATIONS):
            sent = time.time_ns()
            invalidate_objects(Product, [i + 1])
            _sequence, applied = listener.stdout.readline().split()
            latencies.append((int(applied) - sent) / 1000)
    finally:
        listener.stdin.close()
        listener.wait(30)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99)]
    print(
        f"invalidation delivery to another process's near cache, {len(latencies)} "
        f"invalidations: p50 {p50:.0f} us, p99 {p99:.0f} us, max {latencies[-1]:.0f} us "
        f"(target p99 < 50,000 us)"
    )


def main() -> None:
    pks = prepare_products()
    hits(pks)
    memory(pks)
    delivery()


if __name__ == "__main__":
    main()
