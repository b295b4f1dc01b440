"""A writer process that dies between its commit and Redis: the outbox row must be there.

python -m tests.statement_writer PK NAME [fenced]: saves Category PK's name outside any
transaction and dies after the commit, before its invalidation is released. By
default it sends no fence first either (as when Redis could not take one), so Redis
has nothing of the write; with ``fenced`` the fence went before the statement. It
prints "committed" and waits for the test to kill it.
"""

from __future__ import annotations

import os
import sys


def main(pk: str, name: str, how: str = "") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    import importlib

    from tests.testapp.models import Category

    apply = importlib.import_module("django_distcache.outbox.apply")
    invalidation = importlib.import_module("django_distcache.invalidation.apply")
    transactions = importlib.import_module("django_distcache.invalidation.transactions")

    def dies_before_redis(*args: object, **kwargs: object) -> None:
        print("committed", flush=True)
        sys.stdin.read()  # until killed

    apply.run_bump = dies_before_redis  # type: ignore[assignment]
    invalidation.release = dies_before_redis
    if how != "fenced":
        transactions.raise_fence = lambda *args: None
    category = Category.objects.get(pk=int(pk))
    category.name = name
    category.save()  # autocommit: the UPDATE is the commit


if __name__ == "__main__":
    main(*sys.argv[1:4])
