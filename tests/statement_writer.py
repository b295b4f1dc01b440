"""A writer process that dies between its commit and Redis: the outbox row must be there.

python -m tests.statement_writer PK NAME: saves Category PK's name outside any
transaction, with the invalidation stopped before it reaches Redis; prints "committed"
and waits for the test to kill it.
"""

from __future__ import annotations

import os
import sys


def main(pk: str, name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    import importlib

    from tests.testapp.models import Category

    apply = importlib.import_module("django_distcache.outbox.apply")

    def dies_before_redis(*args: object, **kwargs: object) -> None:
        print("committed", flush=True)
        sys.stdin.read()  # until killed

    apply.run_bump = dies_before_redis  # type: ignore[assignment]
    category = Category.objects.get(pk=int(pk))
    category.name = name
    category.save()  # autocommit: the UPDATE is the commit


if __name__ == "__main__":
    main(*sys.argv[1:3])
