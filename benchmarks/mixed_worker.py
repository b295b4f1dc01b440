"""One worker process of the mixed benchmark: ``python -m benchmarks.mixed_worker INDEX PROCS``.

Reads ``run SECONDS WRITE_FRACTION SEED`` lines on stdin and answers each with a JSON
line: operations, latencies (microseconds), database queries and stale reads.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.mixed_settings")

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
        # A bare redis-py GET of a small value per operation: the floor of a network cache.
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
        client.set("dcmixed:floor", b"x" * 100)
        return (lambda pk: client.get("dcmixed:floor"),) * 3  # type: ignore[return-value]
    if system in ("distcache", "distcache-near"):
        import django_distcache

        near_cache = system == "distcache-near"
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


def warm(index: int, procs: int, system: str) -> dict[str, Any]:
    """Read every product, category and list once (this process's share): a warm cache."""
    from tests.testapp.models import Category, Product

    product, products_in, category = readers(system)
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
    for pk in pks[index::procs]:
        product(pk)
    for pk in categories[index::procs]:
        category(pk)
        products_in(pk)
    return {"warmed": len(pks[index::procs])}


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
    print("ready", flush=True)
    for line in sys.stdin:
        if line.startswith("warm"):
            print(json.dumps(warm(index, procs, system)), flush=True)
            continue
        _, seconds, writes, seed = line.split()
        result = run(float(seconds), float(writes), int(seed), index, procs, system)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
