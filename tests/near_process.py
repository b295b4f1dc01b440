"""Another process with a near cache, for the near cache tests: ``python -m tests.near_process``.

Registers Category with ``near_cache=True``, prints "ready" once its subscriber is live,
then answers each line on stdin with one JSON line:
``read PK`` -> {"name": ..., "near": counters}; ``write PK NAME`` -> {"sequence": the
near cache's sequence number after the commit}; ``wait SEQUENCE`` -> {"near": counters}
once its near cache has applied that message; ``info`` -> {"near": counters, "pid": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import transaction

    import django_distcache
    from django_distcache.reads.channel import channel_names
    from django_distcache.reads.near import near_cache
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Category

    django_distcache.register(Category, near_cache=True)
    cache = near_cache()
    while not cache.live:
        time.sleep(0.002)
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "read":
            name = django_distcache.get_object(Category, int(args[0])).name
            answer: dict = {"name": name, "near": near_cache().info()}
        elif command == "write":
            with transaction.atomic():
                category = Category.objects.get(pk=int(args[0]))
                category.name = args[1]
                category.save()
            answer = {"sequence": int(get_redis().get(channel_names()[1]) or 0)}
        elif command == "wait":
            deadline = time.monotonic() + 10
            while (near_cache().info()["sequence"] or 0) < int(args[0]):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            answer = {"near": near_cache().info()}
        else:
            answer = {"near": near_cache().info(), "pid": os.getpid()}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
