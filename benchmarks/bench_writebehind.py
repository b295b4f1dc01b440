"""Write-behind and warming: a write's cost against a bare redis-py SET, flush and warm rates.

Run: ``run.py --modules`` (or ``python benchmarks/bench_writebehind.py`` with the services'
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
    from django_distcache.redis.client import get_redis
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
    print(shop_product_hit_rate())


# The example shop's product page counts its views with write_behind_incr; this is
# its hit rate over PAGE_VIEWS requests to 15 products, a flush every FLUSH_EVERY.
PAGE_VIEWS = 3_000
FLUSH_EVERY = 250
SHOP_SCRIPT = f"""
import io
import random
from django.core.management import call_command
from django.test import Client
from django_distcache import stats, writebehind
from django_distcache.redis.client import get_redis
from shop.models import Product

call_command("migrate", verbosity=0)
call_command("seed_shop", products=15, reviews=60, stdout=io.StringIO())
get_redis().flushdb()
stats.reset_local()
pks = list(Product.objects.values_list("pk", flat=True))
client, rng = Client(HTTP_HOST="localhost"), random.Random(1)
for view in range({PAGE_VIEWS}):
    assert client.get(f"/products/{{rng.choice(pks)}}/").status_code == 200
    if view % {FLUSH_EVERY} == {FLUSH_EVERY} - 1:
        writebehind.flush_write_behind()
stats.flush()
row = next(r for r in stats.snapshot()["namespaces"] if r["namespace"] == "shop.product")
views = sum(Product.objects.values_list("views", flat=True))
print(row["hits"], row["misses"], views)
"""


def shop_product_hit_rate() -> str:
    """Run the example shop's product page in a subprocess (its own settings)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHOP_DATABASE": f"{tmp}/shop.sqlite3", "SHOP_CACHE_PREFIX": "bshop"}
        # This checkout's package, not another one installed in the environment.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.pop("DJANGO_SETTINGS_MODULE", None)
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SHOP_SCRIPT],
            cwd=ROOT / "example_project",
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode:
        raise RuntimeError(f"the shop's page views failed:\n{out.stderr[-3000:]}")
    hits, misses, views = (int(x) for x in out.stdout.split()[-3:])
    return (
        f"shop product page: {hits / (hits + misses):.1%} hits ({hits} hits, {misses} misses) "
        f"over {PAGE_VIEWS} views counted with write_behind_incr, a flush every "
        f"{FLUSH_EVERY}; {views} views in the database"
    )


if __name__ == "__main__":
    main()
