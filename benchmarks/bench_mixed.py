"""Mixed workload: reads, a cached list, a related object and writes, against the peers.

Run: ``python benchmarks/run.py --modules bench_mixed`` (``make bench`` runs this workload
with the floor, a stampede and more). 10,000 products in PostgreSQL in 50 categories;
per operation: a product by pk (Zipf), a cached filtered list depending on Product (5%),
a Category by pk (5%), or a write through ``save()`` followed by a re-read (0, 5 or 20%).
Every system (plain ORM, django-cacheops, django-cachalot, django_distcache) runs in its
own worker processes, 1 or 2 at a time;
the systems take turns in short segments (order shuffled per round) so a busy machine
slows all alike. Printed: ops/s (median of rounds), p50/p99 latency, database queries
per 1,000 operations, stale reads (a re-read after a write that did not show it).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.mixed_settings")

from benchmarks.database import ROWS, prepare_products  # noqa: E402

CATEGORIES = 50
SYSTEMS = {
    "orm": "plain ORM",
    "cacheops": "django-cacheops",
    "cachalot": "django-cachalot",
    "distcache": "django_distcache",
    "distcache_near": "  + near cache",
    # A bare redis-py GET of a small value per operation (reads only): a network cache's floor.
    "floor": "redis-py GET floor",
}
# BENCH_SYSTEMS=distcache,distcache_near,floor runs only those.
if os.environ.get("BENCH_SYSTEMS"):
    SYSTEMS = {k: v for k, v in SYSTEMS.items() if k in os.environ["BENCH_SYSTEMS"].split(",")}
WRITES = (0.0, 0.05, 0.20)
PROCESSES = (1, 2)


def prepare_catalogue() -> None:
    """Products spread over CATEGORIES categories; the bench's Redis db emptied."""
    prepare_products()
    from django.db import connection

    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Category, Product

    if Category.objects.count() != CATEGORIES:
        Category.objects.all().delete()
        Category.objects.bulk_create(Category(name=f"category {i}") for i in range(CATEGORIES))
    if Product.objects.filter(category__isnull=True).exists():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE testapp_product SET category_id = c.id FROM (SELECT id, "
                "row_number() OVER (ORDER BY id) - 1 AS n FROM testapp_category) c "
                "WHERE testapp_product.id %% %s = c.n",
                [CATEGORIES],
            )
    get_redis().flushdb()


class Workers:
    """The worker processes of one system."""

    def __init__(self, system: str, procs: int) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "DISTCACHE_BENCH_SYSTEM": system, "PYTHONPATH": path}
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.mixed_settings"
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.mixed_worker", str(i), str(procs)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(procs)
        ]
        self.system = system

    def ready(self) -> Workers:
        """Wait until every process has set Django up (start all systems, then wait)."""
        for process in self.processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a {self.system} worker did not start")
        return self

    def run(self, seconds: float, writes: float, seed: int) -> list[dict]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"run {seconds} {writes} {seed}\n")
            process.stdin.flush()
        return [json.loads(p.stdout.readline()) for p in self.processes]  # type: ignore[union-attr]

    def warm(self) -> list[dict]:
        return self.ask("warm")

    def ask(self, command: str) -> list[dict]:
        """Send ``command`` to every process; their JSON answers."""
        for process in self.processes:
            process.stdin.write(f"{command}\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
        return [json.loads(p.stdout.readline()) for p in self.processes]  # type: ignore[union-attr]

    def close(self) -> None:
        for process in self.processes:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(30)


def measure(procs: int, rounds: int, seconds: float) -> dict[tuple[float, str], dict]:
    workers = {system: Workers(system, procs) for system in SYSTEMS}
    for group in workers.values():
        group.ready()
    rng = random.Random(procs)
    table: dict[tuple[float, str], dict] = {}
    try:
        for system in SYSTEMS:
            workers[system].warm()  # every key read once, not counted
        for writes in WRITES:
            for number in range(rounds):
                order = [s for s in SYSTEMS if s != "floor" or not writes]
                rng.shuffle(order)
                for system in order:
                    parts = workers[system].run(seconds, writes, number + 1)
                    row = table.setdefault(
                        (writes, system), {"rates": [], "lat": [], "ops": 0, "q": 0, "stale": 0}
                    )
                    row["rates"].append(sum(p["ops"] for p in parts) / seconds)
                    for part in parts:
                        row["lat"].extend(part["latencies"])
                        row["ops"] += part["ops"]
                        row["q"] += part["queries"]
                        row["stale"] += part["stale"]
    finally:
        for group in workers.values():
            group.close()
    return table


def report(procs: int, table: dict[tuple[float, str], dict]) -> str:
    head = f"{'procs':>5} {'writes':>6}  {'system':<18}{'ops/s':>8}{'p50 us':>8}{'p99 us':>9}"
    subject = "distcache" if "distcache" in SYSTEMS else next(iter(SYSTEMS))
    lines = [head + f"{'q/1k ops':>10}{'stale':>7}  ratios of {SYSTEMS[subject].strip()}"]
    for writes in WRITES:
        ours = statistics.median(table[(writes, subject)]["rates"])
        near = table.get((writes, "distcache_near"))
        for system, name in SYSTEMS.items():
            row = table.get((writes, system))
            if row is None:
                continue
            rate = statistics.median(row["rates"])
            latencies = sorted(row["lat"])
            ratio = "" if system == subject else f"{ours / rate:.2f}x"
            if near is not None and system != "distcache_near":
                ratio += f"  (near cache: {statistics.median(near['rates']) / rate:.2f}x)"
            lines.append(
                f"{procs:>5} {writes:>6.0%}  {name:<18}{rate:>8.0f}"
                f"{latencies[len(latencies) // 2]:>8}{latencies[int(len(latencies) * 0.99)]:>9}"
                f"{1000 * row['q'] / row['ops']:>10.0f}{row['stale']:>7}  {ratio}"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    prepare_catalogue()
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "3"))
    print(
        f"mixed workload, {ROWS} products / {CATEGORIES} categories in PostgreSQL, "
        f"median of {rounds} rounds of {seconds:g} s per system"
    )
    for procs in PROCESSES:
        print(report(procs, measure(procs, rounds, seconds)), flush=True)


if __name__ == "__main__":
    main()
