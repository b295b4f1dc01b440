"""The cost of invalidation on save(), with the durable outbox, against a plain save().

Run: ``run.py --modules`` (or ``python benchmarks/bench_outbox.py`` with the services' env).
A registered model (Category: one CharField) and an unregistered one of the same shape
(Uncached) are saved in turn, row by row, in autocommit and inside ``atomic()``. The
invalidation is one Redis round trip after the commit; on PostgreSQL the outbox row rides
in the UPDATE itself (a data-modifying WITH), in autocommit as in a transaction. The
"outbox off" contender shows what that row costs alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import prepare_products  # noqa: E402

ROWS = 300
ROUNDS = 6


def main() -> None:
    prepare_products()
    from django.db import transaction

    from benchmarks.harness import report, run_interleaved
    from django_distcache import outbox
    from django_distcache.models import OutboxEntry
    from django_distcache.outbox import statement
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Category, Uncached

    get_redis().flushdb()
    for model in (Category, Uncached):
        if model.objects.count() != ROWS:
            model.objects.all().delete()
            model.objects.bulk_create(model(name=f"n{i}") for i in range(ROWS))
    categories = {i: c for i, c in enumerate(Category.objects.order_by("pk"))}
    plain = {i: u for i, u in enumerate(Uncached.objects.order_by("pk"))}

    def save(rows: dict) -> object:
        def call(i: int) -> None:
            row = rows[i]
            row.name = row.name[:8] + "x" if not row.name.endswith("x") else row.name[:8]
            row.save()

        return call

    def in_atomic(call: object) -> object:
        def wrapped(i: int) -> None:
            with transaction.atomic():
                call(i)  # type: ignore[operator]

        return wrapped

    def without_outbox(call: object) -> object:
        def wrapped(i: int) -> None:
            record, supported = outbox.record, statement.supported
            outbox.record = lambda using: None  # type: ignore[assignment]
            statement.supported = lambda connection: False  # type: ignore[assignment]
            try:
                call(i)  # type: ignore[operator]
            finally:
                outbox.record, statement.supported = record, supported  # type: ignore[assignment]

        return wrapped

    results = run_interleaved(
        {
            "plain save()": save(plain),
            "registered save()": save(categories),
            "plain save() in atomic": in_atomic(save(plain)),
            "registered save() in atomic": in_atomic(save(categories)),
            "registered, atomic, outbox off": in_atomic(without_outbox(save(categories))),
        },
        list(range(ROWS)),
        rounds=ROUNDS,
    )
    print(f"{ROWS * ROUNDS} saves per contender, PostgreSQL and Redis on loopback, interleaved\n")
    print(report(results, "plain save()", "registered save()"))
    atomic = {k: v for k, v in results.items() if "atomic" in k}
    print()
    print(report(atomic, "plain save() in atomic", "registered save() in atomic"))
    outbox.replay(due_only=False)  # acknowledged rows deleted
    print(f"\noutbox rows left after the replay: {OutboxEntry.objects.count()}")


if __name__ == "__main__":
    main()
