"""A Redis Cluster (three masters) against one Redis: Django's cache API, then the app's reads.

Run with the services' environment: ``set -a; . ./.services.env; set +a;
python benchmarks/bench_cluster.py``. Starts six local redis-server processes in cluster
mode (three masters, one replica each) and stops them after. Django's cache API: each
operation is timed on both caches in turn (the order shuffled each time), so a busy
machine slows both alike. The app's reads (``get_object``, ``get_objects`` of 100 keys,
and a mixed workload of 95% reads and 5% writes, each write followed by a re-read) on
products in PostgreSQL: the app's cache is one and then the other in short segments
(BENCH_SEGMENT operations, alternating), since it is a setting. Prints ops/s,
percentiles, the ratio, and the requests one call sends (on the cluster, to every node
it reaches: requests to different nodes travel in parallel).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django_redis.pool import ConnectionFactory  # noqa: E402

from benchmarks.harness import Result, report, run_interleaved, zipf_keys  # noqa: E402
from tests import roundtrips  # noqa: E402
from tests.cluster import started_cluster  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SEGMENT = int(os.environ.get("BENCH_SEGMENT", "300"))
APP_OPERATIONS = int(os.environ.get("BENCH_APP_OPERATIONS", "6000"))
KEYS = list(range(int(os.environ.get("BENCH_KEYS", "300"))))
BATCH = 100
COUNTING = {"CONNECTION_POOL_KWARGS": {"connection_class": roundtrips.CountingConnection}}


def _caches(cluster_location: str) -> dict:
    return {
        "single": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{settings.REDIS_URL}/{settings.BENCH_REDIS_DB}",
            "KEY_PREFIX": "dcbench-cluster",
            "OPTIONS": COUNTING,
        },
        "cluster": {
            "BACKEND": "django_distcache.redis.cluster.RedisClusterCache",
            "LOCATION": cluster_location,
            "KEY_PREFIX": "dcbench-cluster",
            "OPTIONS": COUNTING,
        },
    }


def _round_trips(call) -> int:
    before = roundtrips.sent
    call()
    return roundtrips.sent - before


def _operations(cache) -> dict:
    value = {"name": "product", "price": 10, "tags": ["a", "b"]}
    batch = {f"batch-{i}": value for i in range(BATCH)}
    cache.set_many(batch)
    for key in KEYS:
        cache.set(f"item-{key}", value)
    return {
        "get (hit)": lambda key: cache.get(f"item-{key}"),
        "set": lambda key: cache.set(f"item-{key}", value),
        f"get_many ({BATCH} keys)": lambda key: cache.get_many(list(batch)),
        f"set_many ({BATCH} keys)": lambda key: cache.set_many(batch),
    }


def _app_operations(pks: list[int]) -> dict:
    """The app's operations, by name: each takes a product pk (Zipf-distributed)."""
    import django_distcache
    from tests.testapp.models import Product

    batch = pks[:BATCH]
    writes = {"count": 0}

    def mixed(pk: int) -> object:
        writes["count"] += 1
        if writes["count"] % 20:
            return django_distcache.get_object(Product, pk)
        Product.objects.filter(pk=pk).update(stock=writes["count"])
        return django_distcache.get_object(Product, pk)  # the re-read after the write

    return {
        "get_object (hit)": lambda pk: django_distcache.get_object(Product, pk),
        f"get_objects ({BATCH} hits)": lambda pk: django_distcache.get_objects(Product, batch),
        "mixed (95% get_object, 5% update + re-read)": mixed,
    }


def _app_side(caches_: dict, side: str) -> override_settings:
    return override_settings(
        CACHES=caches_,
        DISTCACHE={**settings.DISTCACHE, "CACHE_ALIAS": side, "STATS_ENABLED": False},
    )


def app_main(cluster_location: str) -> None:
    """The app's reads with its cache on one Redis, then on the cluster, alternating."""
    from benchmarks.database import prepare_products
    from django_distcache import register
    from tests.testapp.models import Category, Product

    pks = prepare_products()
    # django-redis keeps one pool per URL: the single Redis's must be the counting one.
    ConnectionFactory._pools.pop(_caches(cluster_location)["single"]["LOCATION"], None)
    # Plain registration: the app's reads are compared, not write-behind's hit path.
    register(Product, timeout=600, depends_on=[Category])
    caches_ = _caches(cluster_location)
    keys = zipf_keys(pks, APP_OPERATIONS)
    for name in _app_operations(pks):
        results = {side: Result(f"{side} Redis {name}") for side in ("single", "cluster")}
        trips = {}
        for side in results:
            with _app_side(caches_, side):
                call = _app_operations(pks)[name]
                for pk in keys[:SEGMENT]:  # fill the entries; connect to every node
                    call(pk)
                trips[side] = _round_trips(lambda c=call: c(keys[0]))
        clock = time.perf_counter_ns
        for start in range(0, len(keys), SEGMENT):
            sides = list(results)
            random.shuffle(sides)
            for side in sides:
                with _app_side(caches_, side):
                    call = _app_operations(pks)[name]
                    call(keys[0])  # the new settings' connections, untimed
                    samples = results[side].samples_ns
                    for pk in keys[start : start + SEGMENT]:
                        started = clock()
                        call(pk)
                        samples.append(clock() - started)
        print(
            f"\n-- app {name}: requests per call: single {trips['single']}, "
            f"cluster {trips['cluster']} (3 masters, in parallel)"
        )
        named = {result.name: result for result in results.values()}
        print(report(named, results["single"].name, results["cluster"].name))


def main() -> None:
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        print("skipped: needs the redis-server and redis-cli binaries")
        return
    print(f"load average: {os.getloadavg()}")
    cluster_run = started_cluster()
    cluster = next(cluster_run)
    try:
        if os.environ.get("BENCH_PART", "all") in ("all", "app"):
            app_main(cluster.location)
        if os.environ.get("BENCH_PART", "all") == "app":
            return
        with override_settings(CACHES=_caches(cluster.location)):
            single, clustered = caches["single"], caches["cluster"]
            ops = {"single": _operations(single), "cluster": _operations(clustered)}
            for name in ops["single"]:
                # Warm every connection (each says hello once) before counting.
                calls = {side: ops[side][name] for side in ops}
                for call in calls.values():
                    call(0)
                trips = {side: _round_trips(lambda c=call: c(0)) for side, call in calls.items()}
                contenders = {
                    f"{side} Redis {name}": ops[side][name] for side in ("single", "cluster")
                }
                keys = KEYS if "many" not in name else KEYS[: len(KEYS) // 10]
                results = run_interleaved(contenders, keys, rounds=ROUNDS)
                print(
                    f"\n-- {name}: round trips per call: single {trips['single']}, "
                    f"cluster {trips['cluster']} (3 masters)"
                )
                print(report(results, *contenders))
            single.clear()
    finally:
        for _ in cluster_run:
            pass


if __name__ == "__main__":
    main()
