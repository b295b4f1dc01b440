"""Stale-while-revalidate: a stale entry is served at once while one refresh runs elsewhere."""

from __future__ import annotations

import threading

import celery
import pytest
from django.db import connection

import django_distcache
from django_distcache import keys
from django_distcache.reads import refresh
from django_distcache.redis.client import get_redis
from django_distcache.registry import get_config
from tests.entries import data, expire, fn_entry, wait_until
from tests.testapp.models import Category
from tests.testapp.refreshing import category_names

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

GRACE = 30


@pytest.fixture
def on_threads(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "REFRESH_IN": "thread"}


class BlockedLoad:
    """A loader that reports where it ran and waits to be released."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []

    def __call__(self) -> str:
        self.threads.append(threading.get_ident())
        self.started.set()
        assert self.release.wait(20)
        return self.value


def stale(name: str, value: str = "v1", **options) -> None:
    """Cache ``value`` under ``name`` and make it stale within its grace period."""
    django_distcache.get_or_set(name, lambda: value, stale_while_revalidate=GRACE, **options)
    expire(fn_entry(name))


def rename_unseen(category: Category, name: str) -> None:
    """Change the row without invalidating its entry (raw SQL, not watched)."""
    with connection.cursor() as cursor:
        table = Category._meta.db_table
        cursor.execute(f"UPDATE {table} SET name = %s WHERE id = %s", [name, category.pk])


def test_a_stale_entry_is_served_at_once_while_one_thread_refreshes(on_threads):
    stale("k")
    load = BlockedLoad("v2")
    assert django_distcache.get_or_set("k", load, stale_while_revalidate=GRACE) == "v1"
    assert load.started.wait(20)
    assert load.threads != [threading.get_ident()]  # refreshed on another thread
    others = []
    for _ in range(5):  # the refresh holds the lease: the stale value, no second load
        got = django_distcache.get_or_set(
            "k", lambda: others.append(1) or "v3", stale_while_revalidate=GRACE
        )
        assert got == "v1"
    assert others == []
    load.release.set()
    wait_until(lambda: data(fn_entry("k")) == b'J"v2"', what="the refreshed entry")
    assert django_distcache.get_or_set("k", lambda: "v3", stale_while_revalidate=GRACE) == "v2"
    assert get_redis().pttl(fn_entry("k")) > 250_000  # a full timeout again, plus the grace


def test_an_entry_past_its_grace_period_is_a_miss(on_threads):
    stale("late")
    expire(fn_entry("late"), ago_ms=GRACE * 1000 + 1)
    caller = []
    got = django_distcache.get_or_set(
        "late", lambda: caller.append(threading.get_ident()) or "v2", stale_while_revalidate=GRACE
    )
    assert got == "v2"
    assert caller == [threading.get_ident()]  # loaded by the reader, which waited for it


def test_without_a_grace_period_an_expired_entry_is_a_miss(on_threads):
    django_distcache.get_or_set("plain", lambda: "v1")
    expire(fn_entry("plain"))
    assert django_distcache.get_or_set("plain", lambda: "v2") == "v2"


def test_a_stale_entry_is_never_served_after_its_generation_moves_on(on_threads):
    stale("dep", depends_on=[Category])
    Category.objects.create(name="new")  # bumps the Category generation
    caller = []
    got = django_distcache.get_or_set(
        "dep",
        lambda: caller.append(threading.get_ident()) or "v2",
        depends_on=[Category],
        stale_while_revalidate=GRACE,
    )
    assert got == "v2"
    assert caller == [threading.get_ident()]


def test_a_stale_entry_is_never_served_after_it_was_invalidated(on_threads):
    calls = []

    @django_distcache.cached(timeout=60, stale_while_revalidate=GRACE)
    def square(x: int) -> int:
        calls.append(x)
        return x * x + len(calls) - 1

    assert square(3) == 9
    expire(square.base((3,), {}))
    square.invalidate(3)  # deletes the entry
    assert square(3) == 10
    assert calls == [3, 3]


def test_a_refresh_that_meets_an_invalidation_is_not_stored(on_threads):
    stale("race", depends_on=[Category])
    load = BlockedLoad("loaded before the write")
    options = {"depends_on": [Category], "stale_while_revalidate": GRACE}
    assert django_distcache.get_or_set("race", load, **options) == "v1"
    assert load.started.wait(20)
    Category.objects.create(name="written while the refresh loads")
    load.release.set()
    lease = keys.lease_key(fn_entry("race"))
    wait_until(lambda: not get_redis().exists(lease), what="lease released")
    assert django_distcache.get_or_set("race", lambda: "after the write", **options) == (
        "after the write"
    )


def test_a_cached_function_refreshes_on_a_thread(on_threads):
    calls = []

    @django_distcache.cached(timeout=60, stale_while_revalidate=GRACE)
    def numbered(x: int) -> int:
        calls.append(threading.get_ident())
        return len(calls)

    assert numbered(1) == 1
    expire(numbered.base((1,), {}))
    assert numbered(1) == 1  # stale, served at once
    wait_until(lambda: len(calls) == 2, what="the refresh")
    assert calls[1] != threading.get_ident()
    # 2 from the refresh; more if a loaded machine made its store come after the lease
    # ran out (refused), then a later read loaded again: either way not the stale 1.
    wait_until(lambda: numbered(1) >= 2, what="the refreshed entry")


def test_a_model_refreshes_on_a_thread(on_threads):
    django_distcache.register(Category, stale_while_revalidate=GRACE)
    category = Category.objects.create(name="old")
    django_distcache.get_object(Category, category.pk)
    rename_unseen(category, "new")
    expire(get_config(Category).object_base(category.pk))
    assert django_distcache.get_object(Category, category.pk).name == "old"
    wait_until(lambda: django_distcache.get_object(Category, category.pk).name == "new")


def test_auto_refreshes_on_celery_only_with_a_broker(settings):
    assert settings.DISTCACHE.get("REFRESH_IN", "auto") == "auto"
    assert refresh.uses_celery()  # the test project's Celery app has a broker
    bare = celery.Celery("no-broker", set_as_current=False)
    bare.set_current()
    try:
        assert not refresh.uses_celery()
        bare.conf.task_always_eager = True
        bare.conf.broker_url = "redis://127.0.0.1:1/0"
        assert not refresh.uses_celery()  # eager tasks would make the reader wait
    finally:
        from tests.celery_app import app

        app.set_current()
    settings.DISTCACHE = {**settings.DISTCACHE, "REFRESH_IN": "thread"}
    assert not refresh.uses_celery()


def test_a_model_refreshes_on_a_celery_worker(start_worker, django_assert_num_queries):
    worker = start_worker("refresher")
    django_distcache.register(Category, stale_while_revalidate=GRACE)
    category = Category.objects.create(name="old")
    django_distcache.get_object(Category, category.pk)
    rename_unseen(category, "new")
    key = get_config(Category).object_base(category.pk)
    expire(key)
    with django_assert_num_queries(0):  # served stale; the row is read on the worker
        assert django_distcache.get_object(Category, category.pk).name == "old"
    wait_until(lambda: b"new" in (data(key) or b""), what="the worker's refresh")
    assert django_distcache.get_object(Category, category.pk).name == "new"
    assert "django_distcache.refresh_entries" in worker.output()


def test_a_cached_function_refreshes_on_a_celery_worker(start_worker, django_assert_num_queries):
    worker = start_worker("refresher")
    category = Category.objects.create(name="cat-a")
    assert category_names("cat") == ["cat-a"]
    rename_unseen(category, "cat-b")
    key = category_names.base(("cat",), {})
    expire(key)
    with django_assert_num_queries(0):
        assert category_names("cat") == ["cat-a"]
    wait_until(lambda: b"cat-b" in (data(key) or b""), what="the worker's refresh")
    assert category_names("cat") == ["cat-b"]
    assert "django_distcache.refresh_entries" in worker.output()


def test_an_early_refresh_with_a_grace_period_runs_on_a_celery_worker(
    start_worker, settings, django_assert_num_queries
):
    settings.DISTCACHE = {**settings.DISTCACHE, "EARLY_REFRESH_BETA": 1e9}  # always early
    worker = start_worker("early")
    django_distcache.register(Category, stale_while_revalidate=GRACE)
    category = Category.objects.create(name="old")
    django_distcache.get_object(Category, category.pk)
    rename_unseen(category, "new")
    key = get_config(Category).object_base(category.pk)
    with django_assert_num_queries(0):  # not expired: the current value, refreshed elsewhere
        assert django_distcache.get_object(Category, category.pk).name == "old"
    wait_until(lambda: b"new" in (data(key) or b""), what="the worker's early refresh")
    assert "django_distcache.refresh_entries" in worker.output()
