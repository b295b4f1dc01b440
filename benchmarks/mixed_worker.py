"""One worker process of the mixed benchmark: ``python -m benchmarks.mixed_worker INDEX PROCS``.

Reads ``run SECONDS WRITE_FRACTION SEED``, ``warm`` and ``stampede READERS ROUNDS`` lines on
stdin and answers each with a JSON line: operations, latencies (microseconds), database
queries and stale reads (``warm`` also its seconds).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.mixed_settings")

from benchmarks.harness import counting_queries

LIST_SHARE = 0.05
CATEGORY_SHARE = 0.05
LIST_LENGTH = 20


def readers(system: str) -> tuple[Callable[[int], Any], Callable[[int], Any], Callable[[int], Any]]:
    """(product by pk, cached filtered list of a category, category by pk) of ``system``."""
    from tests.testapp.models import Category, Product

    def query(category_id: int) -> list[Any]:
        rows = Product.objects.filter(category_id=category_id).order_by("pk")
        return list(rows.values_list("pk", "stock")[:LIST_LENGTH])

    if system == "floor":
        return floor_readers()
    if system.startswith("distcache"):  # with and without the near cache
        import django_distcache

        near_cache = system == "distcache_near"
        products_in = django_distcache.cached(depends_on=[Product], near_cache=near_cache)(query)
        return (
            lambda pk: django_distcache.get_object(Product, pk),
            products_in,
            lambda pk: django_distcache.get_object(Category, pk),
        )
    if system == "cacheops":

        def cached_query(category_id: int) -> list[Any]:
            rows = Product.objects.filter(category_id=category_id).order_by("pk")
            return list(rows.values_list("pk", "stock")[:LIST_LENGTH].cache())

        return (
            lambda pk: Product.objects.get(pk=pk),
            cached_query,
            lambda pk: Category.objects.get(pk=pk),
        )
    # The plain ORM, and django-cachalot, which caches these same queries itself.
    return (lambda pk: Product.objects.get(pk=pk), query, lambda pk: Category.objects.get(pk=pk))


class FloorRow:
    """What the floor reads: the bytes of a row under one key, its ``stock`` settable."""

    def __init__(self, key: str, data: bytes) -> None:
        self.key, self.data = key, data

    @property
    def stock(self) -> int:
        return int(json.loads(self.data)["stock"])

    @stock.setter
    def stock(self, value: int) -> None:
        self.data = json.dumps({**json.loads(self.data), "stock": value}).encode()

    def save(self) -> None:
        from django_distcache.redis.client import get_redis

        get_redis().set(self.key, self.data)


def floor_readers() -> tuple[Callable[[int], Any], Callable[[int], Any], Callable[[int], Any]]:
    """The floor: one bare redis-py GET per read (a SET per write) of a row's JSON, loaded
    from the database only when the key is missing (the warm-up)."""
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Category, Product

    redis = get_redis()

    def row(key: str, load: Callable[[], Any]) -> FloorRow:
        data = redis.get(key)
        if data is None:
            data = json.dumps(load(), default=str).encode()
            redis.set(key, data)
        return FloorRow(key, data)

    def product(pk: int) -> FloorRow:
        return row(f"dcfloor:product:{pk}", lambda: Product.objects.values().get(pk=pk))

    def products_in(category_id: int) -> FloorRow:
        rows = Product.objects.filter(category_id=category_id).order_by("pk")
        return row(
            f"dcfloor:list:{category_id}",
            lambda: list(rows.values_list("pk", "stock")[:LIST_LENGTH]),
        )

    def category(pk: int) -> FloorRow:
        return row(f"dcfloor:category:{pk}", lambda: Category.objects.values().get(pk=pk))

    return product, products_in, category


def warm(index: int, procs: int, system: str) -> dict[str, Any]:
    """Read every product, category and list once (this process's share): a warm cache."""
    from tests.testapp.models import Category, Product

    product, products_in, category = readers(system)
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    with counting_queries() as queries:
        for pk in pks[index::procs]:
            product(pk)
    seconds = time.perf_counter() - started
    for pk in categories[index::procs]:
        category(pk)
        products_in(pk)
    return {"warmed": len(pks[index::procs]), "seconds": seconds, "queries": queries[0]}


def stampede(readers_count: int, rounds: int, system: str, first: int = 0) -> dict[str, Any]:
    """``rounds`` times (from category number ``first`` on): a write to a category's first
    product, then ``readers_count``
    threads read that category's list at once (all miss, but for the floor). Loads are the
    threads' SQL queries; a reader that does not see the write's stock is a stale read."""
    from tests.testapp.models import Category, Product

    _, products_in, _ = readers(system)
    categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
    total: dict[str, Any] = {"ops": 0, "latencies": [], "queries": 0, "stale": 0, "seconds": 0.0}
    for number in range(rounds):
        category_id = categories[(first + number) % len(categories)]
        written = Product.objects.filter(category_id=category_id).order_by("pk").first()
        assert written is not None
        products_in(category_id)  # cached, so the write must invalidate it
        written.stock += 1
        written.save()  # autocommit: every system invalidates (cacheops, cachalot, distcache)
        if system == "floor":  # no invalidation: the floor's loader writes the key first
            from django_distcache.redis.client import get_redis

            get_redis().delete(f"dcfloor:list:{category_id}")
            products_in(category_id)
        part = _stampede_round(lambda: products_in(category_id), readers_count, written)  # noqa: B023
        for name in ("ops", "queries", "stale", "seconds"):
            total[name] += part[name]
        total["latencies"] += part["latencies"]
    return total


def _stampede_round(read: Callable[[], Any], readers_count: int, written: Any) -> dict[str, Any]:
    """``readers_count`` threads call ``read`` at once; what they saw of ``written``."""
    from django.db import connection

    barrier = threading.Barrier(readers_count)
    lock = threading.Lock()
    spans: list[tuple[float, float]] = []
    queries, stale = [0], [0]

    def reader() -> None:
        barrier.wait()
        try:
            with counting_queries() as counted:
                started = time.perf_counter()
                value = read()
                ended = time.perf_counter()
            rows = json.loads(value.data) if isinstance(value, FloorRow) else value
            seen = dict(rows)  # pk -> stock
            with lock:
                spans.append((started, ended))
                queries[0] += counted[0]
                stale[0] += seen.get(written.pk) != written.stock
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=reader) for _ in range(readers_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "ops": len(spans),
        "latencies": [int((end - start) * 1e6) for start, end in spans],
        "queries": queries[0],
        "stale": stale[0],
        "seconds": max(end for _, end in spans) - min(start for start, _ in spans),
    }


def run(
    seconds: float, writes: float, seed: int, index: int, procs: int, system: str
) -> dict[str, Any]:
    from django.db import connection

    from benchmarks.harness import zipf_keys
    from tests.testapp.models import Category, Product

    product, products_in, category = readers(system)
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(seed * 100 + index)
    reads = zipf_keys(pks, 20_000, seed=seed * 100 + index)
    # Each process writes its own rows, so a re-read that differs is a stale read.
    own = zipf_keys([pk for pk in pks if pk % procs == index], 20_000, seed=seed + index)
    queries = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries[0] += 1
        return execute(sql, params, many, context)

    latencies, stale = [], 0
    clock = time.perf_counter
    with connection.execute_wrapper(count):
        deadline = clock() + seconds
        step = 0
        while clock() < deadline:
            step += 1
            draw = rng.random()
            started = clock()
            if draw < writes:
                pk = own[step % len(own)]
                instance = product(pk)
                instance.stock += 1
                instance.save()
                if product(pk).stock != instance.stock:
                    stale += 1
            elif draw < writes + LIST_SHARE:
                products_in(categories[step % len(categories)])
            elif draw < writes + LIST_SHARE + CATEGORY_SHARE:
                category(categories[(step * 7) % len(categories)])
            else:
                product(reads[step % len(reads)])
            latencies.append(int((clock() - started) * 1e6))
    return {"ops": len(latencies), "latencies": latencies, "queries": queries[0], "stale": stale}


def main() -> None:
    index, procs = int(sys.argv[1]), int(sys.argv[2])
    system = os.environ.get("DISTCACHE_BENCH_SYSTEM", "orm")
    import django

    django.setup()
    if system == "distcache_near":
        import django_distcache
        from tests.testapp.models import Category, Product

        # run.py starts this system only when register() takes near_cache
        near: dict[str, Any] = {"near_cache": True}
        django_distcache.register(Product, **near)
        django_distcache.register(Category, **near)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.startswith("warm"):
            print(json.dumps(warm(index, procs, system)), flush=True)
            continue
        if line.startswith("stampede"):
            _, readers_count, rounds, first = line.split()
            answer = stampede(int(readers_count), int(rounds), system, int(first))
            print(json.dumps(answer), flush=True)
            continue
        _, seconds, writes, seed = line.split()
        result = run(float(seconds), float(writes), int(seed), index, procs, system)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
