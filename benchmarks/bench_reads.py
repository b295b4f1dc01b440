"""Read-path benchmark: get_object hits against a bare Redis GET and the ORM.

Run: ``run.py --modules`` (or ``python benchmarks/bench_reads.py`` with the services' env).
10,000 rows in PostgreSQL, Zipf-distributed keys, contenders interleaved in one run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
os.environ.setdefault("DISTCACHE_BENCH_CACHEOPS", "1")  # measured here, in-process

from benchmarks.database import ROWS, prepare_products  # noqa: E402


def main() -> None:
    pks = prepare_products()
    from django.conf import settings

    import django_distcache
    from benchmarks.harness import report, run_interleaved, zipf_keys
    from django_distcache.redis.client import get_redis
    from django_distcache.registry import get_config
    from tests.testapp.models import Product

    redis = get_redis()
    django_distcache.get_objects(Product, pks)  # every key a hit from here on

    # The floor: a bare GET of the very bytes get_object reads, one round trip.
    config = get_config(Product)
    floor_keys = {}
    pipe = redis.pipeline(transaction=False)
    for pk in pks:
        floor_keys[pk] = f"dcbench:floor:{pk}"
        pipe.copy(config.object_base(pk), floor_keys[pk], replace=True)
    pipe.execute()

    manager = Product.objects.nocache() if settings.HAVE_CACHEOPS else Product.objects
    # Product is a write-behind model (its hit is one MGET); get_or_set's hit is the read
    # script, which decides early refresh, stale-while-revalidate and sliding too.
    contenders = {
        "redis-py GET (floor)": lambda pk: redis.get(floor_keys[pk]),
        "django_distcache.get_object": lambda pk: django_distcache.get_object(Product, pk),
        "django_distcache.get_or_set": lambda pk: django_distcache.get_or_set(
            f"bench-{pk}", lambda: {"pk": pk, "name": f"product {pk}"}
        ),
        "ORM objects.get(pk=...)": lambda pk: manager.get(pk=pk),
    }
    if settings.HAVE_CACHEOPS:
        for pk in pks:
            Product.objects.get(pk=pk)  # warm cacheops too
        contenders["django-cacheops objects.get"] = lambda pk: Product.objects.get(pk=pk)

    keys = zipf_keys(pks, 2_000)
    for pk in set(keys):
        contenders["django_distcache.get_or_set"](pk)  # every key a hit from here on
    run_interleaved(contenders, keys[:200], rounds=2)  # warm-up
    results = run_interleaved(contenders, keys, rounds=int(os.environ.get("BENCH_ROUNDS", "5")))
    print(f"get_object hits, {ROWS} rows in PostgreSQL, Zipf keys, {len(keys)} reads x rounds")
    print(report(results, "redis-py GET (floor)", "django_distcache.get_object"))
    script_hit = results["django_distcache.get_or_set"].ops_per_second
    floor = results["redis-py GET (floor)"].ops_per_second
    print(f"django_distcache.get_or_set / redis-py GET (floor): {script_hit / floor:.2f}x")
    if not settings.HAVE_CACHEOPS:
        print(
            "(django-cacheops not measured: pip install -e '.[bench]' and run this script "
            "alone, or with DISTCACHE_BENCH_CACHEOPS=1, to compare with it)"
        )


if __name__ == "__main__":
    main()
