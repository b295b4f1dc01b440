"""The async API in one process: hits, misses, single flight, invalidation, breaker, budget."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.checks import run_checks
from django.db import connection, connections, transaction
from django.test import override_settings

import django_distcache
from django_distcache import keys
from django_distcache.redis import breaker
from django_distcache.redis.aio import ASYNC_CLIENT_NAME, close_async_redis, get_async_redis
from tests.cache_override import cache_on
from tests.testapp.models import Category, Product
from tests.threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]

HANG = 30  # a bound against hangs on a busy machine, not a speed assertion


def run(make: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine on a new event loop, then close its Redis and database connections."""

    async def main() -> Any:
        try:
            return await asyncio.wait_for(make(), HANG)
        finally:
            await close_async_redis()
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


class SelectCounter:
    """Counts the SELECTs on a table run by Django's async ORM (its sync thread)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("SELECT") and self.table in sql:
            with self._lock:
                self.count += 1
        return execute(sql, params, many, context)

    async def install(self) -> None:
        # Django's async ORM runs its queries in one thread: count on that thread's connection.
        await sync_to_async(lambda: connection.execute_wrappers.append(self))()

    async def remove(self) -> None:
        await sync_to_async(lambda: connection.execute_wrappers.remove(self))()


@pytest.fixture
def category() -> Category:
    return Category.objects.create(name="books")


def test_hit_needs_no_thread_and_no_query(category, one_redis):
    """A hit completes while Django's sync thread is blocked: no sync_to_async on it."""
    blocked, release = threading.Event(), threading.Event()

    def hold_the_sync_thread() -> None:
        blocked.set()
        release.wait(HANG)

    async def scenario() -> tuple[str, int]:
        await django_distcache.aget_object(Category, category.pk)  # the miss stores it
        counter = SelectCounter("testapp_category")
        await counter.install()
        holder = asyncio.ensure_future(sync_to_async(hold_the_sync_thread)())
        await asyncio.to_thread(blocked.wait, HANG)
        try:
            hit = await asyncio.wait_for(django_distcache.aget_object(Category, category.pk), 5)
        finally:
            release.set()
            await holder
        await counter.remove()
        return hit.name, counter.count

    assert run(scenario) == ("books", 0)


def test_sync_and_async_share_entries_and_invalidation(category, django_assert_num_queries):
    django_distcache.get_object(Category, category.pk)  # stored by the sync path

    async def read() -> str:
        counter = SelectCounter("testapp_category")
        await counter.install()
        found = await django_distcache.aget_object(Category, category.pk)
        await counter.remove()
        assert counter.count == 0  # the sync path's entry, one key for both
        return found.name

    assert run(read) == "books"
    category.name = "novels"
    category.save()
    assert run(lambda: django_distcache.aget_object(Category, category.pk)).name == "novels"
    with django_assert_num_queries(0):  # the async miss stored it for the sync path
        assert django_distcache.get_object(Category, category.pk).name == "novels"


def test_missing_row_raises_does_not_exist():
    async def scenario() -> None:
        for _ in range(2):  # a miss, then the cached "does not exist"
            with pytest.raises(Category.DoesNotExist):
                await django_distcache.aget_object(Category, 999_999)

    run(scenario)


def test_aget_objects_loads_the_misses_in_one_query():
    pks = [Category.objects.create(name=f"c{i}").pk for i in range(5)]

    async def scenario() -> tuple[dict[Any, str], int, dict[Any, str]]:
        await django_distcache.aget_objects(Category, pks[:2])
        counter = SelectCounter("testapp_category")
        await counter.install()
        found = await django_distcache.aget_objects(Category, [*pks, 999_999])
        again = await django_distcache.aget_objects(Category, pks)
        await counter.remove()
        return (
            {pk: obj.name for pk, obj in found.items()},
            counter.count,
            {pk: obj.name for pk, obj in again.items()},
        )

    found, queries, again = run(scenario)
    expected = {pk: f"c{i}" for i, pk in enumerate(pks)}
    assert found == expected
    assert queries == 1  # the three misses (and the absent pk), one query
    assert again == expected


def test_write_behind_model_reads_through_the_sync_path():
    product = Product.objects.create(name="lamp")
    assert run(lambda: django_distcache.aget_object(Product, product.pk)).name == "lamp"
    product.name = "lamp 2"
    django_distcache.write_behind(product, ["name"])
    assert run(lambda: django_distcache.aget_object(Product, product.pk)).name == "lamp 2"


def test_aget_or_set_async_and_sync_loaders_and_dependencies(category):
    calls: list[str] = []

    async def async_loader() -> list[str]:
        calls.append("async")
        return [c.name async for c in Category.objects.order_by("name")]

    def sync_loader() -> int:
        calls.append("sync")
        return Category.objects.count()

    async def scenario() -> tuple[Any, ...]:
        names = await django_distcache.aget_or_set("names", async_loader, depends_on=[Category])
        again = await django_distcache.aget_or_set("names", async_loader, depends_on=[Category])
        count = await django_distcache.aget_or_set("count", sync_loader, tags=["counts"])
        count_again = await django_distcache.aget_or_set("count", sync_loader, tags=["counts"])
        return names, again, count, count_again

    assert run(scenario) == (["books"], ["books"], 1, 1)
    assert calls == ["async", "sync"]
    Category.objects.create(name="atlas")
    django_distcache.invalidate_tag("counts")
    assert run(scenario) == (["atlas", "books"], ["atlas", "books"], 2, 2)
    assert calls == ["async", "sync", "async", "sync"]
    # the sync API reads the same entry
    assert django_distcache.get_or_set("count", sync_loader, tags=["counts"]) == 2


@django_distcache.cached(depends_on=[Category])
async def category_names(prefix: str) -> list[str]:
    CALLS.append(prefix)
    return [c.name async for c in Category.objects.filter(name__startswith=prefix)]


CALLS: list[str] = []


@django_distcache.cached(depends_on=[Category])
async def categories_queryset() -> Any:
    return Category.objects.order_by("name")


def test_cached_on_async_def_is_awaited_and_invalidated(category):
    CALLS.clear()
    assert iscoroutinefunction(category_names)

    async def scenario() -> tuple[list[str], list[str]]:
        return await category_names("bo"), await category_names(prefix="bo")

    assert run(scenario) == (["books"], ["books"])
    assert CALLS == ["bo"]  # f("bo") and f(prefix="bo") are one entry
    category.name = "boats"
    category.save()
    assert run(scenario) == (["boats"], ["boats"])
    category_names.invalidate("bo")
    run(scenario)
    assert CALLS == ["bo", "bo", "bo"]
    rows = run(categories_queryset)
    assert [c.name for c in rows] == ["boats"]
    assert [c.name for c in run(categories_queryset)] == ["boats"]


def test_two_hundred_concurrent_misses_make_one_database_load(category):
    async def scenario() -> tuple[set[str], int]:
        counter = SelectCounter("testapp_category")
        await counter.install()
        found = await asyncio.gather(
            *(django_distcache.aget_object(Category, category.pk) for _ in range(200))
        )
        await counter.remove()
        return {c.name for c in found}, counter.count

    names, loads = run(scenario)
    assert names == {"books"}
    assert loads == 1


def test_a_failed_load_releases_its_lease(category, raw_redis):
    attempts: list[int] = []

    async def failing() -> str:
        attempts.append(1)
        raise RuntimeError("the database is sad")

    async def scenario() -> str:
        with pytest.raises(RuntimeError):
            await django_distcache.aget_or_set("sad", failing)
        entry = keys.entry_base("key", "get_or_set", "sad")
        assert raw_redis.exists(keys.lease_key(entry)) == 0
        started = time.monotonic()

        async def fine() -> str:
            return "happy"

        value = await django_distcache.aget_or_set("sad", fine)
        # the lease was released: no wait for it to time out
        assert time.monotonic() - started < settings.DISTCACHE.get("LEASE_TIMEOUT", 5.0)
        return value

    assert run(scenario) == "happy"
    assert attempts == [1]


def test_async_readers_wait_for_a_sync_loaders_lease():
    """One flight for sync and async readers: the async ones wait for the sync load."""
    loading, finish = threading.Event(), threading.Event()
    loads: list[str] = []

    def slow_sync_load() -> str:
        loads.append("sync")
        loading.set()
        finish.wait(HANG)
        return "from sync"

    thread = in_thread(lambda: django_distcache.get_or_set("shared", slow_sync_load))
    assert loading.wait(HANG)

    async def async_load() -> str:
        loads.append("async")
        return "from async"

    async def scenario() -> list[str]:
        readers = [
            asyncio.ensure_future(django_distcache.aget_or_set("shared", async_load))
            for _ in range(20)
        ]
        await asyncio.sleep(0.05)  # let them find the lease taken
        finish.set()
        return await asyncio.gather(*readers)

    try:
        assert set(run(scenario)) == {"from sync"}
    finally:
        finish.set()
        thread.join(HANG)
    assert loads == ["sync"]


@pytest.fixture
def async_budget(settings) -> Iterator[int]:
    settings.DISTCACHE = {**settings.DISTCACHE, "ASYNC_MAX_CONNECTIONS": 4}
    return 4


def test_hundred_concurrent_reads_open_no_more_connections_than_the_budget(async_budget, one_redis):
    pks = [Category.objects.create(name=f"c{i}").pk for i in range(20)]
    seen: list[int] = []
    done = threading.Event()
    observer = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_DB}")

    def watch() -> None:
        while not done.is_set():
            clients = observer.client_list()
            # This run's db only: another test run may share the server (its own db).
            mine = str(settings.REDIS_DB)
            seen.append(
                sum(1 for c in clients if (c["name"], c["db"]) == (ASYNC_CLIENT_NAME, mine))
            )

    async def scenario() -> int:
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for _ in range(3):  # misses, then hits
                await asyncio.gather(
                    *(django_distcache.aget_object(Category, pks[i % 20]) for i in range(100))
                )
        finally:
            done.set()
            watcher.join(HANG)
        return get_async_redis().opened

    try:
        opened = run(scenario)
    finally:
        observer.close()
    assert 1 <= opened <= async_budget
    assert 1 <= max(seen) <= async_budget  # the watcher saw them at work


def test_async_budget_setting_is_checked(settings, one_redis):
    settings.DISTCACHE = {**settings.DISTCACHE, "ASYNC_MAX_CONNECTIONS": 0}
    assert "distcache.E080" in [m.id for m in run_checks()]
    settings.DISTCACHE = {**settings.DISTCACHE, "ASYNC_MAX_CONNECTIONS": 2.5}
    assert "distcache.E080" in [m.id for m in run_checks()]
    settings.DISTCACHE = {**settings.DISTCACHE, "ASYNC_MAX_CONNECTIONS": 10}
    assert "distcache.E080" not in [m.id for m in run_checks()]


def test_while_the_breaker_is_open_no_read_waits_on_redis(redis_process, category, one_redis):
    import os
    import signal

    server = redis_process()
    # A read that waited on the paused Redis would take a whole REDIS_TIMEOUT; 51 reads
    # from the database take far less, even on a busy machine (the first read's wait for
    # the timeout is the price of that margin).
    fast = {**settings.DISTCACHE, "REDIS_TIMEOUT": 3.0, "RETRY_REDIS_AFTER": 60}
    with cache_on(server.url), override_settings(DISTCACHE=fast):
        assert run(lambda: django_distcache.aget_object(Category, category.pk)).name == "books"
        os.kill(server.process.pid, signal.SIGSTOP)
        try:

            async def scenario() -> tuple[float, list[str]]:
                # the first read waits one timeout for the paused Redis and opens the breaker
                await django_distcache.aget_object(Category, category.pk)
                assert breaker.is_open()
                started = time.monotonic()
                found = await asyncio.gather(
                    *(django_distcache.aget_object(Category, category.pk) for _ in range(50)),
                    django_distcache.aget_or_set("k", lambda: "v"),
                )
                return time.monotonic() - started, [getattr(f, "name", f) for f in found]

            before = breaker.cache_breaker().bypassed
            elapsed, names = run(scenario)
            assert names == ["books"] * 50 + ["v"]
            assert elapsed < fast["REDIS_TIMEOUT"]  # the database answered, nothing waited
            assert breaker.cache_breaker().bypassed >= before + 51
        finally:
            os.kill(server.process.pid, signal.SIGCONT)


def test_a_value_loaded_before_a_write_committed_is_not_stored(category):
    """The load races a committed write: its value is returned to its caller but never
    stored, so the next read loads the new name."""
    loads: list[str] = []

    def rename() -> None:
        Category.objects.filter(pk=category.pk).update(name="renamed")

    async def scenario() -> tuple[list[str], list[str]]:
        writer_done = asyncio.Event()

        async def load_then_wait() -> list[str]:
            names = [c.name async for c in Category.objects.order_by("pk")]
            loads.append("load")
            if len(loads) == 1:  # the write commits while the first load is in flight
                await sync_to_async(rename)()
                writer_done.set()
            return names

        first = await django_distcache.aget_or_set("racing", load_then_wait, depends_on=[Category])
        await writer_done.wait()
        second = await django_distcache.aget_or_set("racing", load_then_wait, depends_on=[Category])
        return first, second

    first, second = run(scenario)
    assert first == ["books"]  # its caller gets what it loaded
    assert second == ["renamed"]  # ... but it was not stored
    assert loads == ["load", "load"]


def test_a_restart_from_an_older_snapshot_is_noticed_before_the_next_async_read(
    redis_process, one_redis
):
    """A held connection found dead runs the breaker's recovery (the lost-state check)
    before the async client trusts Redis again, as the sync path does."""
    pks = [Category.objects.create(name=f"c{i}-v0").pk for i in range(3)]
    server = redis_process()
    admin = redis.Redis(port=server.port)
    fast = {**settings.DISTCACHE, "REDIS_TIMEOUT": 1.0, "RETRY_REDIS_AFTER": 0.2}

    def rename() -> None:
        # In atomic(): the write's outbox row is what the recovery replays (a write in
        # autocommit gets one only when Redis refuses its invalidation).
        with transaction.atomic():
            Category.objects.filter(pk=pks[0]).update(name="c0-v1")

    async def scenario() -> list[str]:
        for pk in pks:
            await django_distcache.aget_object(Category, pk)
        admin.save()  # the snapshot holds every entry at v0
        await sync_to_async(rename)()  # applied to Redis after the snapshot
        server.process.kill()  # no save at shutdown: the snapshot is what comes back
        server.process.wait()
        server.start()
        return [(await django_distcache.aget_object(Category, pk)).name for pk in pks]

    try:
        with cache_on(server.url), override_settings(DISTCACHE=fast):
            assert run(scenario) == ["c0-v1", "c1-v0", "c2-v0"]
    finally:
        admin.close()


class Shelf:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Shelf({self.prefix!r})"

    @django_distcache.cached(depends_on=[Category])
    async def names(self) -> list[str]:
        CALLS.append(self.prefix)
        return [c.name async for c in Category.objects.filter(name__startswith=self.prefix)]


def test_cached_async_method_is_bound_and_invalidated(category):
    CALLS.clear()
    shelf = Shelf("bo")

    async def scenario() -> tuple[list[str], list[str]]:
        return await shelf.names(), await shelf.names()

    assert run(scenario) == (["books"], ["books"])
    assert CALLS == ["bo"]
    shelf.names.invalidate()
    assert run(scenario) == (["books"], ["books"])
    assert CALLS == ["bo", "bo"]


def test_a_cancelled_load_releases_its_lease(raw_redis):
    """A request cancelled mid-load (its client went away) gives the lease up at once."""
    entry = keys.entry_base("key", "get_or_set", "cancelled")

    async def scenario() -> bool:
        started = asyncio.Event()

        async def never_done() -> str:
            started.set()
            await asyncio.Event().wait()
            return "never"

        task = asyncio.ensure_future(django_distcache.aget_or_set("cancelled", never_done))
        await started.wait()
        assert raw_redis.exists(keys.lease_key(entry)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return bool(raw_redis.exists(keys.lease_key(entry)))

    assert run(scenario) is False
