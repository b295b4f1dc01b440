"""A process that reads through the cache a known number of times (for the statistics tests).

python -m tests.stats_workload NAME KEYS READS [--stay SECONDS]: two threads read KEYS
distinct keys READS times each (KEYS misses, KEYS * (READS - 1) hits), then the process
exits, or first sleeps SECONDS without flushing by hand.
"""

from __future__ import annotations

import os
import sys
import threading
import time


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    import django_distcache

    # Flushing every few events makes flushes race with recording on purpose.
    override_settings(DISTCACHE={**settings.DISTCACHE, "STATS_FLUSH_EVERY": 7}).enable()
    name, keys, reads = argv[0], int(argv[1]), int(argv[2])

    def work(part: int) -> None:
        for _ in range(reads):
            for index in range(part, keys, 2):
                django_distcache.get_or_set(f"{name}-{index}", lambda i=index: i)

    threads = [threading.Thread(target=work, args=(part,)) for part in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("done", flush=True)
    if len(argv) > 4 and argv[3] == "--stay":
        time.sleep(float(argv[4]))


if __name__ == "__main__":
    main(sys.argv[1:])
