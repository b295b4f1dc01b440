"""A write has been invalidated everywhere when it returns: a reader in another process sees it.

NOTE: the writer waits for Redis's reply to its invalidation (see docs/internals.md, "Apply"):
without that wait this test fails on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db import transaction

import django_distcache
from tests.testapp.models import Category
from tests.workers import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


class Reader:
    """Another process that reads ``pks`` through the cache each time it is asked."""

    def __init__(self, env: dict[str, str], *pks: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.outage_process", "serve", *map(str, pks)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def names(self) -> dict[str, str]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def category() -> Category:
    return Category.objects.create(name="v0")


def test_a_read_in_another_process_after_the_write_returns_sees_it(category):
    reader = Reader(worker_env(), category.pk)
    try:
        django_distcache.get_object(Category, category.pk)
        for version in range(1, 201):
            category.name = f"v{version}"
            if version % 2:
                category.save()  # autocommit: the statement is the commit
            else:
                with transaction.atomic():
                    category.save()
            # No other command of this thread in between: the reply is still unread.
            assert reader.names() == {str(category.pk): f"v{version}"}
    finally:
        reader.close()
