"""Async views under uvicorn: ``aget_object`` against Django's own RedisCache, same ASGI load.

Run: ``python benchmarks/run.py bench_async`` (or ``python benchmarks/bench_async.py``).
10,000 products in PostgreSQL. One uvicorn process per contender (same settings, same
view shape, one product by pk in an ``async def`` view): django_distcache's
``aget_object``; cache-aside with Django's ``RedisCache`` (``aget``/``aset``, which Django
runs through ``sync_to_async``). Keep-alive clients send requests back to back, each a
product drawn Zipf from 1,000 keys, all cached after the warm-up; 10 and then 100 clients at
once. Contenders take turns in segments of REQUESTS requests, the order shuffled per round,
so a busy machine slows all alike. Printed per level: requests/s (median of rounds),
p50/p99 latency, and the most Redis connections the server process held during its
segments (every socket of the process to Redis, from /proc).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.async_settings")

from benchmarks.database import prepare_products  # noqa: E402
from benchmarks.harness import CURRENT, RECORDED, zipf_keys  # noqa: E402
from tests.asgi_server import HttpConnection, Uvicorn  # noqa: E402

# Keep-alive clients sending at once: a few, and the 100 of the connection budget's claim.
LEVELS = (10, 100)
REQUESTS = int(os.environ.get("DISTCACHE_BENCH_ASYNC_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("DISTCACHE_BENCH_ASYNC_ROUNDS", "4"))
KEYS = 1000
CONTENDERS = {
    "distcache": "django_distcache aget_object",
    "rediscache": "Django RedisCache aget",
}
# Misses (the warm-up) at this concurrency: under an ASGI server every request's query runs
# in a thread of its own with a database connection of its own.
WARM_CONCURRENCY = 8


def redis_connections(pid: int, redis_port: int) -> int:
    """Established TCP connections of process ``pid`` to ``redis_port`` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == redis_port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


class PeakConnections:
    """The most Redis connections a process holds while the block runs (sampled)."""

    def __init__(self, pid: int, redis_port: int) -> None:
        self.pid, self.redis_port, self.most = pid, redis_port, 0
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self._done.is_set():
            self.most = max(self.most, redis_connections(self.pid, self.redis_port))
            time.sleep(0.05)  # pools keep their connections: a coarse sample sees the peak

    def __enter__(self) -> PeakConnections:
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._watcher.join()


async def segment(port: int, paths: list[str], concurrency: int) -> tuple[float, list[float]]:
    """Send ``paths`` over ``concurrency`` connections; (requests/s, latencies in ms)."""
    connections = [HttpConnection(port) for _ in range(concurrency)]
    # connected (and the view's code paths run) before the clock starts
    await asyncio.gather(*(connection.request(paths[0]) for connection in connections))
    latencies: list[float] = []
    failures: list[int] = []

    async def client(index: int) -> None:
        for number in range(index, len(paths), concurrency):
            started = time.perf_counter()
            status, _ = await connections[index].request(paths[number])
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                failures.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    if failures:  # the server's log has their tracebacks
        print(f"port {port}: {len(failures)} failed requests ({sorted(set(failures))})")
    return len(paths) / elapsed, latencies


def warm(servers: dict[str, Uvicorn], pks: list[int]) -> None:
    """Every key cached by every contender, each server's code paths run once."""
    for name, server in servers.items():
        paths = [f"/{name}/{pk}/" for pk in pks[:KEYS]]
        asyncio.run(segment(server.port, paths, WARM_CONCURRENCY))


def measure(
    servers: dict[str, Uvicorn], pks: list[int], redis_port: int, concurrency: int
) -> dict[str, dict]:
    keys = zipf_keys(pks[:KEYS], REQUESTS * ROUNDS, seed=concurrency)
    figures = {name: {"rates": [], "latencies": [], "connections": 0} for name in servers}
    rng = random.Random(concurrency)
    order = list(servers)
    for number in range(ROUNDS):
        rng.shuffle(order)
        chunk = keys[number * REQUESTS : (number + 1) * REQUESTS]
        for name in order:
            server = servers[name]
            paths = [f"/{name}/{pk}/" for pk in chunk]
            with PeakConnections(server.process.pid, redis_port) as peak:
                rate, latencies = asyncio.run(segment(server.port, paths, concurrency))
            figures[name]["rates"].append(rate)
            figures[name]["latencies"].extend(latencies)
            figures[name]["connections"] = max(figures[name]["connections"], peak.most)
    return figures


def print_level(concurrency: int, figures: dict[str, dict]) -> None:
    print(f"\n{concurrency} concurrent keep-alive clients")
    header = f"{'contender':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'Redis conns':>13}"
    print(header)
    print("-" * len(header))
    rates = {name: statistics.median(f["rates"]) for name, f in figures.items()}
    for name, f in figures.items():
        p50, p99 = percentile(f["latencies"], 0.5), percentile(f["latencies"], 0.99)
        print(
            f"{CONTENDERS[name]:<32}{rates[name]:>9,.0f}{p50:>9.1f}{p99:>9.1f}"
            f"{f['connections']:>13}"
        )
        RECORDED.append(
            {
                "benchmark": f"{CURRENT['benchmark'] or 'async'} x{concurrency}",
                "contender": CONTENDERS[name],
                "operations": len(f["latencies"]),
                "ops_per_second": round(rates[name], 1),
                "p50_us": round(p50 * 1000, 1),
                "p99_us": round(p99 * 1000, 1),
                "vs_baseline": round(rates[name] / rates["rediscache"], 3),
                "baseline": CONTENDERS["rediscache"],
                "redis_connections": f["connections"],
            }
        )
    print(
        f"distcache / RedisCache: {rates['distcache'] / rates['rediscache']:.2f}x throughput; "
        f"Redis connections {figures['distcache']['connections']} against "
        f"{figures['rediscache']['connections']}"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    pks = prepare_products()
    from django.conf import settings

    from django_distcache.redis.client import get_redis

    get_redis().flushdb()
    redis_port = get_redis().connection_pool.connection_kwargs["port"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env["DJANGO_SETTINGS_MODULE"] = "benchmarks.async_settings"
    logs = Path(tempfile.mkdtemp(prefix="bench-async-"))
    print(f"server logs in {logs}")
    servers: dict[str, Uvicorn] = {}
    try:
        for name in CONTENDERS:
            servers[name] = Uvicorn(env, logs / f"{name}.log", app="benchmarks.asgi:application")
        warm(servers, pks)
        levels = {level: measure(servers, pks, redis_port, level) for level in LEVELS}
    finally:
        for server in servers.values():
            server.stop()
    budget = settings.DISTCACHE.get("ASYNC_MAX_CONNECTIONS", 10)
    print(
        f"{ROUNDS} rounds of {REQUESTS} requests per contender and level, one uvicorn process "
        f"per contender; ASYNC_MAX_CONNECTIONS={budget}"
    )
    for level, figures in levels.items():
        print_level(level, figures)


if __name__ == "__main__":
    main()
