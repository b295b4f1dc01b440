"""The near cache: hits without I/O, fresh copies, invalidation by messages, bounds."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.checks import run_checks
from django.db import connection, transaction
from django.test import override_settings

import django_distcache
from django_distcache.keys import pk_text
from django_distcache.outbox.apply import bump, bump_arguments, run_bump
from django_distcache.reads import near
from django_distcache.reads.channel import channel_names
from django_distcache.redis import breaker, routed
from django_distcache.redis.client import get_redis, script
from django_distcache.registry import get_config
from django_distcache.serializers import JSONSerializer
from tests.cache_override import cache_on
from tests.testapp.models import Category, Product
from tests.workers import ROOT, worker_env

# Each test runs on one Redis and on a Redis Cluster (tests/cluster.py), but those about
# one Redis's own servers or round trips (test_cluster_app counts a cluster's).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, polling what it watches (not a timed race window)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


@pytest.fixture
def l1() -> Iterator[near.NearCache]:
    """This process's near cache, started anew and live (its subscriber subscribed)."""
    near.reset()
    cache = near.near_cache()
    wait_for(lambda: cache.live)
    yield cache
    near.reset()


def sequence() -> int:
    """The number of the last invalidation published."""
    return int(get_redis().get(channel_names()[1]) or 0)


def applied(cache: near.NearCache, number: int) -> Callable[[], bool]:
    return lambda: (cache.info()["sequence"] or 0) >= number


def apply_unpublished(entries: list[str]) -> None:
    """Apply an invalidation of ``entries`` in Redis and publish nothing (a lost message)."""
    client = get_redis()
    if routed.is_cluster(client):
        routed.bump(client, script, [], entries, None)
    else:
        keys_, args = bump_arguments([], entries)
        run_bump(keys_, [*args[:3], ""])  # no channel


def apply_published(entries: list[str]) -> None:
    """Apply an invalidation of ``entries`` in Redis and publish it, without this process
    dropping it first (as its own write would)."""
    bump([], entries)


def sequence_server(raw: Any) -> redis.Redis:
    """A plain client of the server whose messages the near caches hear (on a cluster,
    the primary holding the sequence)."""
    if not isinstance(raw, redis.RedisCluster):
        return raw
    node = raw.get_node_from_key(channel_names()[1])
    return redis.Redis(host=node.host, port=node.port)


def settled(cache: near.NearCache) -> None:
    """Wait until ``cache`` has applied every invalidation published so far (a fill
    crossing one is refused, which would make a test's count of hits vary)."""
    wait_for(applied(cache, sequence()))


class NearProcess:
    """Another process with a near cache (tests/near_process.py), driven line by line."""

    def __init__(
        self, overrides: dict[str, Any] | None = None, redis_url: str | None = None
    ) -> None:
        env = worker_env(overrides)
        if redis_url is not None:  # a private server: its db 0
            env["DISTCACHE_TEST_REDIS_URL"] = redis_url.rpartition("/")[0]
            env["DISTCACHE_TEST_REDIS_DB"] = "0"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.near_process"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.ask_line() == "ready"

    def ask_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, *words: object) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join(map(str, words)) + "\n")
        self.process.stdin.flush()
        return json.loads(self.ask_line())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def processes() -> Iterator[Callable[..., NearProcess]]:
    started: list[NearProcess] = []

    def start(overrides: dict[str, Any] | None = None, redis_url: str | None = None) -> NearProcess:
        started.append(NearProcess(overrides, redis_url))
        return started[-1]

    yield start
    for process in started:
        process.close()


def test_hit_sends_nothing_queries_nothing_and_decodes_no_json(
    requests_counted, l1, django_assert_num_queries, monkeypatch
):
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="books")
    settled(l1)
    django_distcache.get_object(Category, category.pk)
    django_distcache.get_object(Category, category.pk)  # generations exist: kept in L1
    decoded = []
    loads = JSONSerializer.loads
    monkeypatch.setattr(
        JSONSerializer, "loads", lambda self, data: decoded.append(data) or loads(self, data)
    )
    hits = l1.info()["hits"]
    requests_counted.reset()
    with django_assert_num_queries(0):
        for _ in range(50):
            assert django_distcache.get_object(Category, category.pk).name == "books"
    assert requests_counted.count == 0
    assert decoded == []
    assert l1.info()["hits"] == hits + 50


def test_every_hit_is_a_fresh_object(l1):
    django_distcache.register(Product, near_cache=True)
    product = Product.objects.create(name="pen", attributes={"colours": ["blue"]})
    settled(l1)
    for _ in range(2):  # the first makes the generations, the second fills L1
        django_distcache.get_object(Product, product.pk)
    first = django_distcache.get_object(Product, product.pk)
    first.name = "changed"
    first.attributes["colours"].append("red")
    second = django_distcache.get_object(Product, product.pk)
    assert second is not first
    assert second.name == "pen"
    assert second.attributes == {"colours": ["blue"]}
    assert second._state.adding is False
    assert second._state.db == "default"
    assert l1.info()["hits"] >= 2


def test_the_caller_of_a_miss_shares_nothing_with_l1(l1):
    django_distcache.register(Product, near_cache=True)
    product = Product.objects.create(name="pen", attributes={"colours": ["blue"]})
    settled(l1)
    django_distcache.get_object(Product, product.pk)  # makes the generations
    loaded = django_distcache.get_object(Product, product.pk)  # the read that fills L1
    loaded.attributes["colours"].append("red")
    assert django_distcache.get_object(Product, product.pk).attributes == {"colours": ["blue"]}


def test_a_write_is_read_back_at_once_in_the_writing_process(l1):
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    for _ in range(2):
        django_distcache.get_object(Category, category.pk)
    for name in ("one", "two", "three"):
        with transaction.atomic():
            category.name = name
            category.save()
        assert django_distcache.get_object(Category, category.pk).name == name


def test_a_redis_hit_with_generations_held_is_one_get(requests_counted, settings, l1):
    settings.DISTCACHE = {**settings.DISTCACHE, "NEAR_CACHE_MAX_ENTRIES": 1}
    near.reset()
    cache = near.near_cache()
    wait_for(lambda: cache.live)
    django_distcache.register(Category, near_cache=True)
    first, second = Category.objects.create(name="a"), Category.objects.create(name="b")
    settled(cache)
    django_distcache.get_object(Category, first.pk)
    django_distcache.get_object(Category, first.pk)
    django_distcache.get_object(Category, second.pk)  # fills L1, evicting the first
    assert cache.info()["evictions"] >= 1
    requests_counted.reset()
    assert django_distcache.get_object(Category, first.pk).name == "a"
    assert requests_counted.count == 1  # the entry alone: the generations are in L1


def test_an_evicted_entry_is_read_back_with_one_get(requests_counted, l1):
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(l1)
    for _ in range(2):
        django_distcache.get_object(Category, category.pk)
    l1.evict(get_config(Category).object_base(pk_text(Category, category.pk), "default"))
    requests_counted.reset()
    assert django_distcache.get_object(Category, category.pk).name == "a"
    assert requests_counted.count == 1
    requests_counted.reset()
    django_distcache.get_object(Category, category.pk)
    assert requests_counted.count == 0


def test_a_read_after_a_write_sends_no_get_before_the_read_through(round_trips, l1):
    """L1 saw the entry invalidated: Redis holds none either, so no GET is sent first."""
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    settled(l1)
    for _ in range(2):
        django_distcache.get_object(Category, category.pk)
    category.name = "new"
    category.save()
    settled(l1)  # its message came back: the fill below is not refused for it
    round_trips.reset()
    assert django_distcache.get_object(Category, category.pk).name == "new"
    assert round_trips.count == 2  # the read script (a miss, its lease), then the store
    round_trips.reset()
    assert django_distcache.get_object(Category, category.pk).name == "new"
    assert round_trips.count == 0


def test_an_entry_another_process_stored_after_an_invalidation_is_one_round_trip(
    round_trips, l1, processes
):
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    settled(l1)
    for _ in range(2):
        django_distcache.get_object(Category, category.pk)
    reader = processes()
    number = reader.ask("write", category.pk, "new")["sequence"]
    wait_for(applied(l1, number))
    assert reader.ask("read", category.pk)["name"] == "new"  # stored in Redis again
    round_trips.reset()
    assert django_distcache.get_object(Category, category.pk).name == "new"
    assert round_trips.count == 1  # the read script's hit


def test_a_read_that_crosses_an_invalidation_keeps_nothing(l1, processes):
    """The read's reply is older than an invalidation applied before it arrived."""
    django_distcache.register(Category, near_cache=True)
    other = Category.objects.create(name="other")
    category = Category.objects.create(name="old")
    settled(l1)
    django_distcache.get_object(Category, other.pk)  # the generations exist
    writer = processes()
    crossed = []

    def write_meanwhile(execute, sql, params, many, context):
        rows = execute(sql, params, many, context)
        if "testapp_category" in sql and not crossed:
            # The row is read; before this reply is used, another process commits a
            # write and its invalidation reaches this process's near cache.
            crossed.append(writer.ask("write", category.pk, "new")["sequence"])
            wait_for(applied(l1, crossed[0]))
        return rows

    with connection.execute_wrapper(write_meanwhile):
        assert django_distcache.get_object(Category, category.pk).name == "old"
    assert crossed
    assert l1.info()["refused"] >= 1
    assert django_distcache.get_object(Category, category.pk).name == "new"


def test_writes_in_one_process_are_never_read_stale_from_anothers_l1(l1, processes):
    """Three processes: each writes in turn; once its invalidation is delivered, the
    other two read the new value although they had the old one in their near cache."""
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="v0")
    second, third = processes(), processes()
    for _ in range(2):  # the first makes the generations, the second fills L1
        for reader in (second, third):
            reader.ask("read", category.pk)
        django_distcache.get_object(Category, category.pk)
    for version in range(1, 13):
        name = f"v{version}"
        hits_before = [p.ask("read", category.pk)["near"]["hits"] for p in (second, third)]
        django_distcache.get_object(Category, category.pk)
        writer = version % 3
        if writer == 0:
            with transaction.atomic():
                Category.objects.filter(pk=category.pk).update(name=name)
            number = sequence()
        else:
            number = (second, third)[writer - 1].ask("write", category.pk, name)["sequence"]
        wait_for(applied(l1, number))
        assert django_distcache.get_object(Category, category.pk).name == name
        for process in (second, third):
            assert process.ask("wait", number)["near"]["sequence"] >= number
            answer = process.ask("read", category.pk)
            assert answer["name"] == name
        # The readers did serve from their near cache between the writes.
        assert hits_before[0] > 0
        assert hits_before[1] > 0


def subscriber_clients(raw: redis.Redis, pid: int) -> list[dict[str, Any]]:
    """The subscribed connection of process ``pid``'s near cache."""
    return [
        c for c in raw.client_list() if c["name"] == f"distcache-near-{pid}" and "P" in c["flags"]
    ]


def test_a_killed_subscriber_connection_empties_l1(processes, raw_redis):
    category = Category.objects.create(name="kept")
    other = processes()
    other.ask("read", category.pk)
    answer = other.ask("read", category.pk)
    assert answer["near"]["entries"] == 1
    pid = other.ask("info")["pid"]
    server = sequence_server(raw_redis)
    (client,) = subscriber_clients(server, pid)
    server.client_kill_filter(_id=client["id"])
    # While it cannot hear invalidations it serves nothing from L1, which is empty.
    wait_for(lambda: not other.ask("info")["near"]["live"])
    assert other.ask("info")["near"]["entries"] == 0
    wait_for(lambda: other.ask("info")["near"]["live"])
    # Subscribed again on a new connection, and serving from L1 again.
    wait_for(lambda: len(subscriber_clients(server, pid)) == 1)
    assert subscriber_clients(server, pid)[0]["id"] != client["id"]
    other.ask("read", category.pk)
    assert other.ask("read", category.pk)["near"]["hits"] > answer["near"]["hits"]


def test_lost_messages_leave_staleness_bounded_by_the_maximum_age(settings, l1):
    settings.DISTCACHE = {**settings.DISTCACHE, "NEAR_CACHE_MAX_AGE": 0.5}
    near.reset()
    cache = near.near_cache()
    wait_for(lambda: cache.live)
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    settled(cache)
    filled = time.monotonic()
    for _ in range(2):
        django_distcache.get_object(Category, category.pk)
    # A write whose invalidation reaches Redis but whose message is lost.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE testapp_category SET name = 'new' WHERE id = %s", [category.pk])
    key = get_config(Category).object_base(pk_text(Category, category.pk), "default")
    apply_unpublished([key])
    assert django_distcache.get_object(Category, category.pk).name == "old"  # from L1
    wait_for(lambda: django_distcache.get_object(Category, category.pk).name == "new")
    assert time.monotonic() - filled >= 0.5
    assert time.monotonic() - filled < 3


def test_a_gap_in_sequence_numbers_empties_l1(l1, raw_redis):
    django_distcache.register(Category, near_cache=True)
    kept, written = Category.objects.create(name="kept"), Category.objects.create(name="w")
    settled(l1)
    for _ in range(2):
        django_distcache.get_object(Category, kept.pk)
    assert l1.info()["entries"] == 1
    clears = l1.info()["clears"]
    raw_redis.incr(channel_names()[1])  # a message that never came
    # An invalidation that does not touch the kept entry, applied in Redis only
    # (published, but not applied locally first as a write of this process would be).
    key = get_config(Category).object_base(pk_text(Category, written.pk), "default")
    apply_published([key])
    wait_for(applied(l1, sequence()))
    assert l1.info()["clears"] == clears + 1
    assert l1.info()["entries"] == 0


def test_cached_function_results_in_l1_are_fresh_and_invalidated(l1):
    calls = []

    @django_distcache.cached(depends_on=[Category], near_cache=True)
    def names() -> list[str]:
        calls.append(1)
        return list(Category.objects.order_by("pk").values_list("name", flat=True))

    Category.objects.create(name="a")
    settled(l1)
    assert names() == ["a"]
    assert names() == ["a"]
    hits = l1.info()["hits"]
    names().append("mutated")
    assert names() == ["a"]
    assert l1.info()["hits"] == hits + 2
    Category.objects.create(name="b")
    assert names() == ["a", "b"]
    assert len(calls) == 2


def test_get_or_set_with_the_near_cache(l1):
    django_distcache.invalidate_tag("t")  # the tag's generation exists
    settled(l1)
    value = django_distcache.get_or_set("k", lambda: {"n": 1}, tags=["t"], near_cache=True)
    assert value == {"n": 1}
    django_distcache.get_or_set("k", lambda: {"n": 2}, tags=["t"], near_cache=True)["n"] = 5
    assert django_distcache.get_or_set("k", dict, tags=["t"], near_cache=True) == {"n": 1}
    django_distcache.invalidate_tag("t")
    assert django_distcache.get_or_set("k", lambda: {"n": 3}, tags=["t"], near_cache=True) == {
        "n": 3
    }


def test_memory_is_bounded_in_bytes_and_entries(settings):
    limit = 200_000
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "NEAR_CACHE_MAX_BYTES": limit,
        "NEAR_CACHE_MAX_ENTRIES": 10_000,
    }
    near.reset()
    cache = near.near_cache()
    wait_for(lambda: cache.live)

    @django_distcache.cached(near_cache=True)
    def rows(i: int) -> list[str]:
        return [f"{i}-{j}-" + "x" * 100 for j in range(20)]

    rows(-1)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(400):
            rows(i)
            rows(i)
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        info = cache.info()
        cache.clear(live=True)
        gc.collect()
        empty = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert info["bytes"] <= limit
    assert info["evictions"] > 0
    assert 0 < full - empty <= limit * 1.1, (full - empty, info)
    near.reset()


def test_entries_are_bounded_in_number(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "NEAR_CACHE_MAX_ENTRIES": 5}
    near.reset()
    cache = near.near_cache()
    wait_for(lambda: cache.live)

    @django_distcache.cached(near_cache=True)
    def square(i: int) -> int:
        return i * i

    for i in range(50):
        square(i)
        square(i)
    assert cache.info()["entries"] == 5
    near.reset()


def test_near_cache_and_write_behind_are_refused_together(one_redis):
    with pytest.raises(ValueError, match="near_cache=True cannot be combined"):
        django_distcache.register(Category, near_cache=True, write_behind=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEAR_CACHE_MAX_ENTRIES", -1),
        ("NEAR_CACHE_MAX_ENTRIES", 1.5),
        ("NEAR_CACHE_MAX_BYTES", "64MB"),
        ("NEAR_CACHE_MAX_AGE", 0),
        ("NEAR_CACHE_MAX_AGE", True),
    ],
)
def test_bad_near_cache_settings_are_reported(one_redis, settings, name, value):
    settings.DISTCACHE = {**settings.DISTCACHE, name: value}
    errors = [e for e in run_checks() if e.id == "distcache.E090"]
    assert len(errors) == 1
    assert name in errors[0].msg


def test_good_near_cache_settings_pass(one_redis, settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "NEAR_CACHE_MAX_ENTRIES": 0,
        "NEAR_CACHE_MAX_BYTES": 1024,
        "NEAR_CACHE_MAX_AGE": 2.5,
    }
    assert [e for e in run_checks() if e.id == "distcache.E090"] == []


def test_get_objects_reads_through_the_near_cache(requests_counted, l1, django_assert_num_queries):
    django_distcache.register(Category, near_cache=True)
    rows = [Category.objects.create(name=f"c{i}") for i in range(3)]
    pks = [row.pk for row in rows]
    settled(l1)
    django_distcache.get_objects(Category, pks)  # makes the generations
    django_distcache.get_objects(Category, pks)  # fills L1
    requests_counted.reset()
    with django_assert_num_queries(0):
        found = django_distcache.get_objects(Category, pks)
    assert requests_counted.count == 0
    assert {pk: obj.name for pk, obj in found.items()} == {r.pk: r.name for r in rows}
    found[pks[0]].name = "changed"
    assert django_distcache.get_objects(Category, pks[:1])[pks[0]].name == "c0"
    with transaction.atomic():
        rows[1].name = "new"
        rows[1].save()
    assert django_distcache.get_objects(Category, pks)[pks[1]].name == "new"


def test_a_function_read_that_crosses_a_generation_bump_keeps_nothing(l1, processes):
    """Like an object's read, but the invalidation only bumps a generation the entry
    lives under (a write to a model the function depends on)."""
    category = Category.objects.create(name="old")
    writer = processes()
    crossed = []

    @django_distcache.cached(depends_on=[Category], near_cache=True)
    def names() -> list[str]:
        found = list(Category.objects.values_list("name", flat=True))
        if len(crossed) == 1:
            crossed.append(writer.ask("write", category.pk, "new")["sequence"])
            wait_for(applied(l1, crossed[1]))
        return found

    settled(l1)
    assert names() == ["old"]  # the generations exist
    names.invalidate_all()  # and no current entry
    settled(l1)
    crossed.append("armed")
    assert names() == ["old"]
    assert len(crossed) == 2
    assert l1.info()["refused"] >= 1
    assert names() == ["new"]


def test_a_stopped_redis_empties_l1_until_it_is_back(one_redis, redis_process, settings):
    """While its subscriber cannot reach Redis, a process serves nothing from L1: a write
    made meanwhile (kept in the outbox) is read from the database, and after it."""
    server = redis_process()
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    with (
        cache_on(server.url),
        override_settings(DISTCACHE={**settings.DISTCACHE, "RETRY_REDIS_AFTER": 0.2}),
    ):
        cache = near.near_cache()
        wait_for(lambda: cache.live)
        for _ in range(2):
            django_distcache.get_object(Category, category.pk)
        assert cache.info()["entries"] == 1
        server.stop()
        wait_for(lambda: not cache.live)
        assert cache.info()["entries"] == 0
        with transaction.atomic():
            Category.objects.filter(pk=category.pk).update(name="new")
        assert django_distcache.get_object(Category, category.pk).name == "new"
        server.start()
        wait_for(lambda: cache.live, timeout=30)
        wait_for(lambda: not breaker.is_open(), timeout=30)
        for _ in range(3):
            assert django_distcache.get_object(Category, category.pk).name == "new"
    near.reset()


def test_an_invalidation_redis_refuses_empties_every_near_cache(
    one_redis, redis_process, processes
):
    """A Redis that answers but refuses writes (a primary turned replica) cannot apply an
    invalidation: the near caches of other processes are told to empty themselves."""
    server = redis_process()
    category = Category.objects.create(name="old")
    with cache_on(server.url):
        other = processes({"RETRY_REDIS_AFTER": 0.2}, redis_url=server.url)
        for _ in range(2):
            other.ask("read", category.pk)
        assert other.ask("read", category.pk)["near"]["entries"] == 1
        clears = other.ask("info")["near"]["clears"]
        primary = redis.Redis(port=server.port)
        primary.replicaof("127.0.0.1", 1)  # nothing listens there: it stays read-only
        try:
            with transaction.atomic():
                Category.objects.filter(pk=category.pk).update(name="new")
            wait_for(lambda: other.ask("info")["near"]["clears"] > clears)
            assert other.ask("info")["near"]["entries"] == 0
        finally:
            primary.replicaof("NO", "ONE")
            primary.close()
