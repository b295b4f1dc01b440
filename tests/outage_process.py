"""Another process for the outage tests: writes a row or reads rows through the cache.

python -m tests.outage_process write PK NAME: saves Category PK's name in a transaction,
prints "saved" and waits (the test kills it). python -m tests.outage_process read PK...:
prints the names get_object returns, as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import transaction

    import django_distcache
    from tests.testapp.models import Category

    if argv[0] == "write":
        with transaction.atomic():
            category = Category.objects.get(pk=int(argv[1]))
            category.name = argv[2]
            category.save()
        print("saved", flush=True)
        sys.stdin.read()  # until killed
    else:
        names = {pk: django_distcache.get_object(Category, int(pk)).name for pk in argv[1:]}
        print(json.dumps(names), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
