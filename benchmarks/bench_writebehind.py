"""Write-behind and warming: a write's cost against a bare redis-py SET, flush and warm rates.

Run: ``make benchmark`` (or ``python benchmarks/bench_writebehind.py`` with the services'
env). Uses the benchmarks' database and Redis db (DISTCACHE_BENCH_DB,
DISTCACHE_BENCH_REDIS_DB); the Redis db is emptied.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import prepare_products  # noqa: E402

WRITES = 5_000  # per contender and round
ROUNDS = 4


def main() -> None:
    pks = prepare_products()
    import django_distcache
    from benchmarks.harness import report, run_interleaved
    from django_distcache.client import get_redis
    from django_distcache.warming import warm
    from django_distcache.writebehind import flush_write_behind
    from tests.testapp.models import Product

    redis = get_redis()
    redis.flushdb()
    hot = pks[:1000]
    instances = {p.pk: p for p in Product.objects.filter(pk__in=hot)}
    payload = b"J" + b"1" * 40

    def set_value(pk: int) -> None:
        instance = instances[pk]
        instance.stock += 1
        django_distcache.write_behind(instance, fields=["stock"])

    keys = [hot[i % len(hot)] for i in range(WRITES)]
    results = run_interleaved(
        {
            "redis-py SET (floor)": lambda pk: redis.set(f"bench:set:{pk}", payload),
            "write_behind_incr": lambda pk: django_distcache.write_behind_incr(
                Product, pk, "stock"
            ),
            "write_behind (one field)": set_value,
        },
        keys,
        rounds=ROUNDS,
    )
    print(f"{WRITES * ROUNDS} writes per contender, one process, interleaved\n")
    print(report(results, "redis-py SET (floor)", "write_behind_incr"))

    flush_write_behind(Product)
    for pk in pks:  # every row pending, two increments each
        django_distcache.write_behind_incr(Product, pk, "stock", by=2)
        django_distcache.write_behind_incr(Product, pk, "stock", by=3)
    started = time.perf_counter()
    counts = flush_write_behind(Product)
    elapsed = time.perf_counter() - started
    print(
        f"\nflush: {counts['rows']} rows ({counts['writes']} buffered writes, "
        f"{counts['writes'] / max(counts['rows'], 1):.1f} per row) in {elapsed:.2f}s = "
        f"{counts['rows'] / elapsed:,.0f} rows/s, {counts['batches']} batches"
    )

    redis.flushdb()
    started = time.perf_counter()
    [result] = warm(["products"])
    elapsed = time.perf_counter() - started
    rate = result["entries"] / elapsed
    print(f"warm: {result['entries']} objects in {elapsed:.2f}s = {rate:,.0f} objects/s")


if __name__ == "__main__":
    main()
