"""Another process for the outage tests: writes a row or reads rows through the cache.

python -m tests.outage_process write PK NAME: saves Category PK's name in a transaction,
prints "saved" and waits (the test kills it). python -m tests.outage_process read PK...:
prints the names get_object returns, as JSON. python -m tests.outage_process serve PK...:
reads PK... once, prints "ready", then for each line of stdin reads PK... again and prints
the names as JSON: in a new thread (as a threaded server would) for "thread", else in the
thread that held its connections since the first read.
"""

from __future__ import annotations

import json
import os
import sys
import threading


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import connections, transaction

    import django_distcache
    from tests.testapp.models import Category

    if argv[0] == "write":
        with transaction.atomic():
            category = Category.objects.get(pk=int(argv[1]))
            category.name = argv[2]
            category.save()
        print("saved", flush=True)
        sys.stdin.read()  # until killed
        return

    def names() -> dict[str, str]:
        return {pk: django_distcache.get_object(Category, int(pk)).name for pk in argv[1:]}

    def read_then_close(found: list[dict[str, str]]) -> None:
        try:
            found.append(names())
        finally:
            connections.close_all()

    if argv[0] == "read":
        print(json.dumps(names()), flush=True)
        return
    names()
    print("ready", flush=True)
    for line in sys.stdin:
        found: list[dict[str, str]] = []
        if line.strip() == "thread":
            reader = threading.Thread(target=read_then_close, args=(found,))
            reader.start()
            reader.join()
        else:
            found.append(names())
        print(json.dumps(found[0] if found else {}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
