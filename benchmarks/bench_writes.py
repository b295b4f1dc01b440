"""What invalidation costs a write: save(), update() of 100 rows and bulk_create() of 100
rows of a registered model against the same on an unregistered one, interleaved.

Run: ``run.py --modules`` (or ``python benchmarks/bench_writes.py`` with the services' env).
Uses the benchmarks' database and Redis db (DISTCACHE_BENCH_DB, DISTCACHE_BENCH_REDIS_DB).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import prepare_products  # noqa: E402

ROWS = 2_000  # per model, in groups of 100
SAVES = 1_000  # per contender and round
ROUNDS = 3


def main() -> None:
    prepare_products()
    from django.db.models import F

    import django_distcache
    from benchmarks.harness import report, run_interleaved
    from django_distcache.redis.client import get_redis
    from tests.shapes.models import PlainTally, Tally

    get_redis().flushdb()
    for model in (Tally, PlainTally):
        model.objects.all().delete()
        model.objects.bulk_create(model(name=f"row {i}", group=i // 100) for i in range(ROWS))
    tallies = dict(enumerate(Tally.objects.order_by("pk")))
    plains = dict(enumerate(PlainTally.objects.order_by("pk")))
    # Cached rows, so that invalidation has something to drop.
    django_distcache.get_objects(Tally, [t.pk for t in tallies.values()])

    def save(rows: dict):
        def run(index: int) -> None:
            row = rows[index]
            row.count += 1
            row.save()

        return run

    def update(model):
        return lambda index: model.objects.filter(group=index % 20).update(count=F("count") + 1)

    def bulk_create(model):
        return lambda index: model.objects.bulk_create(
            model(name=f"new {index} {n}", group=-1) for n in range(100)
        )

    def cost(results: dict, plain: str, registered: str) -> str:
        ratio = results[plain].ops_per_second / results[registered].ops_per_second
        return f"{registered} costs {ratio:.2f}x {plain} (mean time per call)\n"

    print(f"PostgreSQL, Redis; {ROUNDS} rounds, one process, interleaved\n")
    keys = [i % ROWS for i in range(SAVES)]
    saves = run_interleaved(
        {"save() unregistered": save(plains), "save() registered": save(tallies)},
        keys,
        rounds=ROUNDS,
    )
    print(report(saves, "save() unregistered", "save() registered"))
    print(cost(saves, "save() unregistered", "save() registered"))
    updates = run_interleaved(
        {
            "update() 100 rows unregistered": update(PlainTally),
            "update() 100 rows registered": update(Tally),
        },
        list(range(100)),
        rounds=ROUNDS,
    )
    print(report(updates, "update() 100 rows unregistered", "update() 100 rows registered"))
    print(cost(updates, "update() 100 rows unregistered", "update() 100 rows registered"))
    creates = run_interleaved(
        {
            "bulk_create() 100 unregistered": bulk_create(PlainTally),
            "bulk_create() 100 registered": bulk_create(Tally),
        },
        list(range(50)),
        rounds=ROUNDS,
    )
    print(report(creates, "bulk_create() 100 unregistered", "bulk_create() 100 registered"))
    print(cost(creates, "bulk_create() 100 unregistered", "bulk_create() 100 registered"))
    for model in (Tally, PlainTally):
        model.objects.filter(group=-1).delete()


if __name__ == "__main__":
    main()
