"""What requests see while Redis is paused (SIGSTOP), with the default settings.

Run: ``run.py --modules`` (or ``python benchmarks/bench_outage.py`` with the services' env).
Starts a private redis-server, caches 200 categories, then four threads read and one
writes (each save in its own transaction) for three seconds before, during and after a
pause. Prints per phase the read latency, the slowest request, the time until the cache
is used again after SIGCONT, and the stale reads seen (there must be none).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import prepare_products  # noqa: E402
from tests.redis_servers import RedisServer  # noqa: E402

ROWS = 200
PHASE_SECONDS = 3.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main() -> None:
    prepare_products()
    from django.conf import settings
    from django.db import connections, transaction
    from django.test.utils import override_settings

    import django_distcache
    from django_distcache.redis import breaker
    from tests.testapp.models import Category

    workdir = tempfile.mkdtemp()
    server = RedisServer(Path(workdir))
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url}}
    try:
        server.start()
        with override_settings(CACHES=caches, DISTCACHE={**settings.DISTCACHE}):
            if Category.objects.count() != ROWS:
                Category.objects.all().delete()
                Category.objects.bulk_create(Category(name="c-v0") for _ in range(ROWS))
            pks = list(Category.objects.values_list("pk", flat=True))
            for pk in pks:
                django_distcache.get_object(Category, pk)
            committed: dict[int, int] = {}
            lock = threading.Lock()
            phase = ["before"]
            reads: dict[str, list[float]] = {"before": [], "paused": [], "after": []}
            saves: dict[str, list[float]] = {"before": [], "paused": [], "after": []}
            stale = [0]
            running = threading.Event()
            running.set()

            def reader(seed: int) -> None:
                rng = random.Random(seed)
                try:
                    while running.is_set():
                        pk = rng.choice(pks)
                        with lock:
                            floor = committed.get(pk, 0)
                        current = phase[0]
                        started = time.perf_counter()
                        name = django_distcache.get_object(Category, pk).name
                        reads[current].append(time.perf_counter() - started)
                        if int(name.rpartition("-v")[2]) < floor:
                            stale[0] += 1
                finally:
                    connections.close_all()

            def writer() -> None:
                rng = random.Random(99)
                version = 0
                try:
                    while running.is_set():
                        pk = rng.choice(pks)
                        version += 1
                        current = phase[0]
                        started = time.perf_counter()
                        with transaction.atomic():
                            row = Category.objects.get(pk=pk)
                            row.name = f"c-v{version}"
                            row.save()
                        saves[current].append(time.perf_counter() - started)
                        with lock:
                            committed[pk] = version
                        time.sleep(0.01)
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
            threads.append(threading.Thread(target=writer))
            for thread in threads:
                thread.start()
            time.sleep(PHASE_SECONDS)
            phase[0] = "paused"
            os.kill(server.pid, signal.SIGSTOP)
            time.sleep(PHASE_SECONDS)
            phase[0] = "after"
            os.kill(server.pid, signal.SIGCONT)
            resumed = time.monotonic()
            while breaker.is_open():
                time.sleep(0.005)
            back_after = time.monotonic() - resumed
            time.sleep(PHASE_SECONDS)
            running.clear()
            for thread in threads:
                thread.join()
    finally:
        server.stop()  # a server that failed to start too
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"defaults: REDIS_TIMEOUT {settings.DISTCACHE.get('REDIS_TIMEOUT', 1.0)} s, "
        f"RETRY_REDIS_AFTER 5 s; 4 reader threads, 1 writer, {PHASE_SECONDS:.0f} s per phase\n"
    )
    print(
        f"{'phase':<10}{'reads':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'saves':>7}{'save p50':>10}{'save max':>10}"
    )
    for name in ("before", "paused", "after"):
        r, s = reads[name], saves[name]
        print(
            f"{name:<10}{len(r):>8}{percentile(r, 0.5):>9.2f}{percentile(r, 0.99):>9.2f}"
            f"{max(r, default=0) * 1000:>9.1f}{len(s):>7}{percentile(s, 0.5):>10.2f}"
            f"{max(s, default=0) * 1000:>10.1f}"
        )
    print(f"\ncache used again {back_after:.2f} s after SIGCONT; stale reads: {stale[0]}")


if __name__ == "__main__":
    main()
