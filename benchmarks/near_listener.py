"""Another process for bench_near: prints when its near cache applies each invalidation.

``python -m benchmarks.near_listener``: prints "ready" once its subscriber is live, then
"<sequence> <time.time_ns()>" for every message its near cache applies.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def main() -> None:
    import django

    django.setup()
    from django_distcache.reads import near

    cache = near.near_cache()
    drop = cache.drop

    def drop_and_report(generations, entries):  # type: ignore[no-untyped-def]
        drop(generations, entries)
        print(cache.subscriber.last, time.time_ns(), flush=True)

    cache.drop = drop_and_report  # type: ignore[method-assign]
    while not cache.live:
        time.sleep(0.005)
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes it


if __name__ == "__main__":
    main()
