"""The outbox row carried by the write's own statement (PostgreSQL): a write outside a
transaction whose process dies between its commit and Redis is still invalidated."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection, transaction

import django_distcache
from django_distcache import outbox
from django_distcache.models import OutboxEntry
from django_distcache.outbox.replay import WRITER_GRACE
from django_distcache.outbox.statement import STATEMENT
from tests.test_outages import app_on, run_then_kill
from tests.testapp.models import Category

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL statement"),
]


def kill_after_commit(port: int, pk: int, name: str) -> None:
    run_then_kill(port, ["tests.statement_writer", str(pk), name], "committed")


def test_autocommit_writer_killed_between_commit_and_redis_is_replayed(redis_process):
    server = redis_process()
    with app_on(server.url):
        pk = Category.objects.create(name="before").pk
        OutboxEntry.objects.all().delete()
        assert django_distcache.get_object(Category, pk).name == "before"
        kill_after_commit(server.port, pk, "after")
        assert Category.objects.get(pk=pk).name == "after"
        # Died before Redis: the entry is stale until the outbox row is replayed.
        assert django_distcache.get_object(Category, pk).name == "before"
        (row,) = OutboxEntry.objects.all()
        assert row.payload["by"] == STATEMENT
        assert any(entry.endswith(f":{pk}") for entry in row.payload["entries"])
        # The periodic task leaves a young row to its writer, then takes it.
        assert outbox.replay()["replayed"] == 0
        OutboxEntry.objects.update(created=row.created - WRITER_GRACE - timedelta(seconds=1))
        assert outbox.replay() == {
            "replayed": 1,
            "deleted": 1,
            "emptied": False,
            "lost_state": False,
        }
        assert django_distcache.get_object(Category, pk).name == "after"
        assert not OutboxEntry.objects.exists()


def recovered() -> None:
    """A first read: a new server is recovered (outbox replayed) before the test's writes."""
    django_distcache.get_or_set("first read", lambda: 1)


def test_autocommit_write_carries_and_acknowledges_its_row(redis_process):
    server = redis_process()
    with app_on(server.url):
        recovered()
        category = Category.objects.create(name="a")
        category.name = "b"
        with _count_queries() as queries:
            category.save()
        assert len(queries) == 1  # the UPDATE carries the row: no INSERT of its own
        assert "distcache_outbox" in queries[0]
        assert outbox.figures()["waiting"] == 0
        assert outbox.replay()["deleted"] == 2  # the create's row and the save's
        assert not OutboxEntry.objects.exists()


def test_a_transactions_first_write_carries_its_row(redis_process):
    server = redis_process()
    with app_on(server.url):
        category = Category.objects.create(name="a")
        OutboxEntry.objects.all().delete()
        with _count_queries() as queries, transaction.atomic():
            category.name = "b"
            category.save()
            category.name = "c"
            category.save()
        assert len(queries) == 2  # two UPDATEs; the first carried the transaction's row
        (row,) = OutboxEntry.objects.all()
        assert row.payload is None
        assert outbox.figures()["waiting"] == 0
        assert django_distcache.get_object(Category, category.pk).name == "c"


def test_an_update_that_changes_no_row_still_acknowledges_its_row(redis_process):
    server = redis_process()
    with app_on(server.url):
        recovered()
        OutboxEntry.objects.all().delete()
        assert Category.objects.filter(pk=-1).update(name="x") == 0
        assert OutboxEntry.objects.count() == 1
        assert outbox.figures()["waiting"] == 0


class _count_queries:
    """The SQL of the statements run in the block (BEGIN/COMMIT excluded)."""

    def __enter__(self) -> list[str]:
        self.queries: list[str] = []

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            self.queries.append(sql)
            return execute(sql, params, many, context)

        self._wrapper = connection.execute_wrapper(count)
        self._wrapper.__enter__()
        return self.queries

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)


def test_writes_before_the_outbox_table_exists_record_nothing_and_succeed(redis_process):
    """A data migration that runs before the app's own migration writes cached rows."""
    record = importlib.import_module("django_distcache.outbox.record")
    server = redis_process()
    with app_on(server.url):
        category = Category.objects.create(name="a")
        assert django_distcache.get_object(Category, category.pk).name == "a"
        table = OutboxEntry._meta.db_table
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_away"')
                record._migrated.clear()
                assert not record.has_outbox("default")
                category.name = "b"
                category.save()
                Category.objects.filter(pk=category.pk).update(name="c")
                raise RuntimeError("roll the rename back")
        except RuntimeError:
            pass
        assert record.has_outbox("default")
        category.name = "d"
        category.save()
        assert django_distcache.get_object(Category, category.pk).name == "d"
