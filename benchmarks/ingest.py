"""Write-behind ingestion and flush, and warming, as rows of ``make bench``'s table.

``python -m benchmarks.ingest WRITES ROUNDS`` (benchmarks.settings) prints one JSON row per
line. Only django_distcache buffers writes and warms in bulk; the no-cache row is the ORM
doing the same write now, the floor is the bare redis-py command.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.harness import counting_queries, run_interleaved

FLOOR, ORM, OURS = "floor", "orm", "distcache"


def _row(section: str, variant: str, system: str, label: str, **figures: Any) -> dict[str, Any]:
    return {"section": section, "variant": variant, "system": system, "label": label, **figures}


def ingestion(pks: list[int], writes: int, rounds: int) -> list[dict[str, Any]]:
    """One field of a hot row incremented, interleaved: redis-py INCR, the ORM's
    ``update(F() + 1)``, ``write_behind_incr``."""
    from django.db.models import F

    import django_distcache
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Product

    redis = get_redis()
    plain = Product._base_manager  # no invalidation, no write-behind: the database now
    queries = {FLOOR: 0, ORM: 0, OURS: 0}

    def counted(name: str, call: Callable[[int], object]) -> Callable[[int], object]:
        def run(pk: int) -> object:
            with counting_queries() as count:
                result = call(pk)
            queries[name] += count[0]
            return result

        return run

    contenders = {
        FLOOR: counted(FLOOR, lambda pk: redis.incr(f"dcbench:floor:incr:{pk}")),
        ORM: counted(ORM, lambda pk: plain.filter(pk=pk).update(stock=F("stock") + 1)),
        OURS: counted(OURS, lambda pk: django_distcache.write_behind_incr(Product, pk, "stock")),
    }
    hot = pks[:1000]
    keys = [hot[i % len(hot)] for i in range(writes)]
    # Not measured: a process's first write asks the database once whether it holds the
    # outbox table.
    plain.filter(pk=hot[0]).update(stock=F("stock") + 1)
    results = run_interleaved(contenders, keys, rounds=rounds)
    labels = {
        FLOOR: "redis-py INCR (floor)",
        ORM: "ORM update(F() + 1)",
        OURS: "write_behind_incr",
    }
    return [
        _row(
            "write-behind ingest",
            f"{len(hot)} hot rows, 1 process",
            name,
            labels[name],
            ops=len(result.samples_ns),
            ops_per_second=result.ops_per_second,
            p50_us=result.percentile(0.5),
            p99_us=result.percentile(0.99),
            queries=queries[name],
        )
        for name, result in results.items()
    ]


def flush(pks: list[int]) -> list[dict[str, Any]]:
    """Every row with two buffered increments, flushed by ``flush_write_behind``."""
    import django_distcache
    from django_distcache.writebehind import flush_write_behind
    from tests.testapp.models import Product

    flush_write_behind(Product)  # what ingestion left
    for pk in pks:
        django_distcache.write_behind_incr(Product, pk, "stock", by=2)
        django_distcache.write_behind_incr(Product, pk, "stock", by=3)
    with counting_queries() as count:
        started = time.perf_counter()
        counts = flush_write_behind(Product)
        seconds = time.perf_counter() - started
    return [
        _row(
            "write-behind flush",
            f"{counts['rows']} rows, 2 writes each",
            OURS,
            "flush_write_behind",
            ops=counts["rows"],
            ops_per_second=counts["rows"] / seconds,
            queries=count[0],
        )
    ]


def warming(pks: list[int]) -> list[dict[str, Any]]:
    """``warm()`` of every product into an empty cache, and the floor: the same entries'
    bytes written back with pipelined redis-py SETs."""
    from django_distcache.redis.client import get_redis
    from django_distcache.registry import get_config
    from django_distcache.warming import warm
    from tests.testapp.models import Product

    redis = get_redis()
    redis.flushdb()
    with counting_queries() as count:
        started = time.perf_counter()
        [result] = warm(["products"])
        seconds = time.perf_counter() - started
    variant = f"{len(pks):,} objects, empty cache"
    rows = [
        _row(
            "warming",
            variant,
            OURS,
            "warm(['products'])",
            ops=result["entries"],
            ops_per_second=result["entries"] / seconds,
            queries=count[0],
        )
    ]
    config = get_config(Product)
    entries = dict(zip(pks, redis.mget([config.object_base(pk) for pk in pks]), strict=True))
    started = time.perf_counter()
    for start in range(0, len(pks), 1000):
        pipe = redis.pipeline(transaction=False)
        for pk in pks[start : start + 1000]:
            pipe.set(f"dcbench:floor:warm:{pk}", entries[pk] or b"")
        pipe.execute()
    seconds = time.perf_counter() - started
    rows.append(
        _row(
            "warming",
            variant,
            FLOOR,
            "pipelined redis-py SET (floor)",
            ops=len(pks),
            ops_per_second=len(pks) / seconds,
            queries=0,
        )
    )
    return rows


def main() -> None:
    writes, rounds = int(sys.argv[1]), int(sys.argv[2])
    from benchmarks.database import prepare_products

    pks = prepare_products()
    from django_distcache.redis.client import get_redis

    get_redis().flushdb()
    for row in [*ingestion(pks, writes, rounds), *flush(pks), *warming(pks)]:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
