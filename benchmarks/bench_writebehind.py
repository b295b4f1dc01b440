"""Write-behind and warming speed: write cost against a bare redis-py SET, flush and warm rates.

Run with the services' environment: set -a; . ./.services.env; set +a;
python benchmarks/bench_writebehind.py [--ops 20000] [--rows 10000]
It uses its own PostgreSQL database (test_distcache_bench, kept) and Redis db index
DISTCACHE_TEST_REDIS_DB (default 11), which it empties.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DISTCACHE_TEST_SUFFIX", "_bench")
os.environ.setdefault("DISTCACHE_TEST_REDIS_DB", "11")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

import django_distcache  # noqa: E402
from django_distcache.client import get_redis  # noqa: E402
from django_distcache.warming import warm  # noqa: E402
from django_distcache.writebehind import flush_write_behind  # noqa: E402


def measure(cases: dict, ops: int, rounds: int = 20) -> list[dict]:
    """Run each case ``ops`` times, interleaved in rounds so that load on the machine
    weighs on every case alike; ops/s, p50 and p99 in microseconds."""
    latencies: dict[str, list[float]] = {label: [] for label in cases}
    elapsed = dict.fromkeys(cases, 0.0)
    per_round = max(1, ops // rounds)
    counter = 0
    for _round in range(rounds):
        for label, func in cases.items():
            started = time.perf_counter()
            for _ in range(per_round):
                t0 = time.perf_counter()
                func(counter)
                latencies[label].append(time.perf_counter() - t0)
                counter += 1
            elapsed[label] += time.perf_counter() - started
    results = []
    for label, values in latencies.items():
        values.sort()
        results.append(
            {
                "label": label,
                "ops_s": len(values) / elapsed[label],
                "p50_us": statistics.median(values) * 1e6,
                "p99_us": values[int(len(values) * 0.99)] * 1e6,
            }
        )
    return results


def setup_database(rows: int) -> list[int]:
    from tests.testapp.models import Category, Product

    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)
    Product.objects.all().delete()
    category = Category.objects.create(name="bench")
    Product.objects.bulk_create(
        [Product(name=f"p{i}", stock=0, category=category) for i in range(rows)],
        batch_size=5000,
    )
    return list(Product.objects.order_by("pk").values_list("pk", flat=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    from tests.testapp.models import Product

    pks = setup_database(args.rows)
    redis = get_redis()
    redis.flushdb()
    print(f"Redis {settings.CACHES['default']['LOCATION']}")
    print(f"PostgreSQL database {connection.settings_dict['NAME']}")
    print(f"{args.ops} sequential calls from one process\n")

    payload = b"J" + b"1" * 40
    hot = pks[:1000]
    instances = list(Product.objects.filter(pk__in=hot))

    def set_value(i: int) -> None:
        instance = instances[i % len(instances)]
        instance.stock = i
        django_distcache.write_behind(instance, fields=["stock"])

    results = measure(
        {
            "redis-py SET (baseline)": lambda i: redis.set(f"bench:{i % 1000}", payload),
            "write_behind_incr": lambda i: django_distcache.write_behind_incr(
                Product, hot[i % 1000], "stock"
            ),
            "write_behind (one field)": set_value,
        },
        args.ops,
    )
    baseline = results[0]["ops_s"]
    print(f"{'operation':<28}{'ops/s':>10}{'p50 us':>10}{'p99 us':>10}{'vs SET':>9}")
    for r in results:
        ratio = r["ops_s"] / baseline
        print(
            f"{r['label']:<28}{r['ops_s']:>10.0f}{r['p50_us']:>10.1f}{r['p99_us']:>10.1f}"
            f"{ratio:>8.2f}x"
        )

    flush_write_behind(Product)  # drain the 1000 hot rows
    for pk in pks:  # every row pending: 2 increments and one value each
        django_distcache.write_behind_incr(Product, pk, "stock", by=2)
        django_distcache.write_behind_incr(Product, pk, "stock", by=3)
    started = time.perf_counter()
    counts = flush_write_behind(Product)
    elapsed = time.perf_counter() - started
    print(
        f"\nflush: {counts['rows']} rows ({counts['writes']} writes, coalesced "
        f"{counts['writes'] / max(counts['rows'], 1):.1f}:1) in {elapsed:.2f}s = "
        f"{counts['rows'] / elapsed:,.0f} rows/s ({counts['batches']} batches)"
    )
    assert set(Product.objects.filter(pk__in=pks).values_list("stock", flat=True)) != {0}

    redis.flushdb()
    started = time.perf_counter()
    [result] = warm(["products"])
    elapsed = time.perf_counter() - started
    rate = result["entries"] / elapsed
    print(f"warm: {result['entries']} objects in {elapsed:.2f}s = {rate:,.0f}/s")


if __name__ == "__main__":
    main()
