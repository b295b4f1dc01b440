"""A write outside a transaction fences its invalidation before its statement (outbox/fence.py).

What must hold: nothing read while the fence is up is ever stored (so a lost release
leaves no stale entry), overlapping writers are counted, a fence whose writer died ends
by itself, and a statement that fails or runs long still releases its fence.
"""

from __future__ import annotations

import importlib
import time

import pytest
from django.db import DataError, connection

import django_distcache
from django_distcache.invalidation.plans import plan_for
from django_distcache.keys import lease_key
from django_distcache.redis.client import get_redis
from django_distcache.redis.wire import read_pending
from django_distcache.registry import get_config
from tests.test_outages import app_on, run_then_kill
from tests.testapp.models import Category
from tests.threads import run_in_thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="fences ride on PostgreSQL"),
]

fence = importlib.import_module("django_distcache.outbox.fence")
invalidation = importlib.import_module("django_distcache.invalidation.apply")


def entry_of(category: Category) -> str:
    return get_config(Category).object_base(category.pk)


def generation_value() -> bytes:
    """The generation a write of a Category bumps (what lists that depend on it read)."""
    (name,) = plan_for(Category).generations
    value: bytes = get_redis().get(name)
    return value


def read_name(pk: int) -> str:
    """get_object in another thread (its own database connection and Redis connection)."""
    return run_in_thread(lambda: django_distcache.get_object(Category, pk).name)


def stored(category: Category) -> bool:
    read_pending(get_redis())  # this thread's deferred replies (a release) are in
    return get_redis().exists(entry_of(category)) == 1


@pytest.fixture
def category() -> Category:
    category = Category.objects.create(name="before")
    assert django_distcache.get_object(Category, category.pk).name == "before"
    return category


@pytest.fixture
def release_lost(monkeypatch):
    """The write's release never reaches Redis (as when its process dies after commit)."""

    def lost(fence_: object, ack: str) -> str:
        fence_.lowered = True  # type: ignore[attr-defined]
        return "sent"

    monkeypatch.setattr(invalidation, "release", lost)


def test_a_save_leaves_its_generations_and_lease_unfenced(category):
    category.name = "after"
    category.save()
    assert b"~" not in generation_value()
    assert get_redis().get(lease_key(entry_of(category))) is None
    assert read_name(category.pk) == "after"
    assert stored(category)


def test_what_is_read_before_the_commit_is_never_stored(category, release_lost):
    """A reader between the fence and the commit loads the old row; with the release lost,
    only the fence keeps that row out of the cache."""
    seen: list[str] = []

    def read_before_the_statement(execute, sql, params, many, context):
        if sql.startswith('WITH "distcache_outbox"'):
            seen.append(read_name(category.pk))  # the UPDATE has not run: the old row
        return execute(sql, params, many, context)

    category.name = "after"
    with connection.execute_wrapper(read_before_the_statement):
        category.save()
    assert seen == ["before"]
    assert not stored(category)
    assert read_name(category.pk) == "after"
    assert read_name(category.pk) == "after"
    assert not stored(category)  # still fenced: loaded, not stored


def test_a_fence_whose_writer_died_ends_by_itself(category, release_lost, monkeypatch):
    monkeypatch.setattr(fence, "FENCE_MS", 300)
    category.name = "after"
    category.save()
    assert read_name(category.pk) == "after"
    assert not stored(category)
    time.sleep(0.4)
    assert read_name(category.pk) == "after"
    assert stored(category)
    assert read_name(category.pk) == "after"


def test_overlapping_writers_are_counted(category):
    plan = plan_for(Category)
    generations = sorted(plan.generations)
    entries = sorted(plan.entries([category.pk]))
    assert entry_of(category) in entries
    first = fence.raise_fence(generations, entries)
    second = fence.raise_fence(generations, entries)
    assert first is not None
    assert second is not None
    assert first.up()
    assert second.up()
    assert get_redis().get(lease_key(entries[0])) == b"!2"
    assert fence.release(first, "") == "sent"
    read_pending(get_redis())
    assert get_redis().get(lease_key(entries[0])) == b"!1"
    assert b"~1~" in generation_value()
    Category.objects.filter(pk=category.pk).update(name="between")  # its own fence and release
    assert read_name(category.pk) == "between"
    assert not stored(category)  # the second writer's fence is still up
    assert fence.release(second, "") == "sent"
    read_pending(get_redis())
    assert get_redis().get(lease_key(entries[0])) is None
    assert b"~" not in generation_value()
    assert read_name(category.pk) == "between"
    assert stored(category)


def test_a_slow_statement_waits_for_its_release(category, monkeypatch):
    monkeypatch.setattr(fence, "_RELEASE_WAITED_AFTER", 0.0)
    sent: list[bytes] = []
    send_later = fence.wire.send_later
    monkeypatch.setattr(
        fence.wire,
        "send_later",
        lambda client, body, on_reply: (sent.append(body), send_later(client, body, on_reply)),
    )
    category.name = "after"
    category.save()
    assert len(sent) == 1  # the fence; the release was applied and waited for
    assert b"~" not in generation_value()
    assert read_name(category.pk) == "after"


def test_a_failed_statement_releases_its_fence(category):
    category.name = "x" * 500  # longer than the column: PostgreSQL refuses the UPDATE
    with pytest.raises(DataError):
        category.save()
    read_pending(get_redis())
    assert b"~" not in generation_value()
    assert get_redis().get(lease_key(entry_of(category))) is None
    assert read_name(category.pk) == "before"
    assert stored(category)


def test_a_writer_killed_after_its_fence_and_commit_serves_no_stale_row(redis_process):
    server = redis_process()
    with app_on(server.url):
        category = Category.objects.create(name="before")
        assert django_distcache.get_object(Category, category.pk).name == "before"
        run_then_kill(
            server.port,
            ["tests.statement_writer", str(category.pk), "after", "fenced"],
            "committed",
        )
        assert Category.objects.get(pk=category.pk).name == "after"
        assert django_distcache.get_object(Category, category.pk).name == "after"
