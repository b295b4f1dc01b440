"""Django's cache API on a Redis Cluster (three masters) against one Redis, interleaved.

Run with the services' environment: ``set -a; . ./.services.env; set +a;
python benchmarks/bench_cluster.py``. Starts six local redis-server processes in cluster
mode (three masters, one replica each) and stops them after. Each operation is timed on
both caches in turn (the order shuffled each time), so a busy machine slows both alike;
prints ops/s, percentiles, the ratio, and the round trips one call costs.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from benchmarks.harness import report, run_interleaved  # noqa: E402
from tests import roundtrips  # noqa: E402
from tests.cluster import started_cluster  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
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


def main() -> None:
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        print("skipped: needs the redis-server and redis-cli binaries")
        return
    cluster_run = started_cluster()
    cluster = next(cluster_run)
    try:
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
