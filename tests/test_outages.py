"""Redis outages with real redis-server processes: nothing waits, no invalidation is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import override_settings

import django_distcache
from django_distcache import outbox
from django_distcache.models import OutboxEntry
from django_distcache.redis import breaker
from tests.cache_override import cache_on
from tests.testapp.models import Category
from tests.threads import in_thread, run_in_thread
from tests.workers import ROOT, TcpProxy, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

# Probes every 0.2 s keep the tests quick (the default is 5 s).
FAST = {"REDIS_TIMEOUT": 1.0, "RETRY_REDIS_AFTER": 0.2}
# Generous bound against hangs on a busy machine (not a speed assertion).
HANG = 30


@contextmanager
def app_on(url: str, **extra: object) -> Iterator[None]:
    """The app's cache on the Redis at ``url`` with the fast outage settings."""
    with cache_on(url), override_settings(DISTCACHE={**settings.DISTCACHE, **FAST, **extra}):
        yield


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def wait_until_cache_used_again() -> None:
    wait_for(lambda: not breaker.is_open(), "the breaker to close")


@pytest.fixture
def categories() -> list[int]:
    pks = [Category.objects.create(name=f"c{i}-v0").pk for i in range(6)]
    # Their creations' outbox rows were acknowledged by the suite's Redis, not by the
    # servers these tests start: the tests begin with an empty outbox.
    OutboxEntry.objects.all().delete()
    return pks


def version(name: str) -> int:
    return int(name.rpartition("-v")[2])


def rename(pk: int, new_version: int, *, atomic: bool = True) -> None:
    def save() -> None:
        category = Category.objects.get(pk=pk)
        category.name = f"{category.name.rpartition('-v')[0]}-v{new_version}"
        category.save()

    if atomic:
        with transaction.atomic():
            save()
    else:
        save()


def process_env(port: int) -> dict[str, str]:
    env = worker_env(FAST)
    env["DISTCACHE_TEST_REDIS_URL"] = f"redis://127.0.0.1:{port}"
    env["DISTCACHE_TEST_REDIS_DB"] = "0"
    return env


def read_in_other_process(port: int, pks: list[int]) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.outage_process", "read", *map(str, pks)],
        cwd=ROOT,
        env=process_env(port),
        capture_output=True,
        text=True,
        timeout=HANG,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_then_kill(port: int, command: list[str], said: str) -> None:
    """Run ``python -m <command>`` against Redis on ``port``; kill it once it says ``said``."""
    with subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=process_env(port),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == said
        finally:
            writer.kill()
            writer.wait(timeout=HANG)


def write_in_process_then_kill(port: int, pk: int, name: str) -> None:
    """Another process saves ``pk`` (its invalidation cannot reach Redis) and is killed."""
    run_then_kill(port, ["tests.outage_process", "write", str(pk), name], "saved")


def assert_fresh_everywhere(port: int, pks: list[int]) -> None:
    """Zero stale reads: here (a miss, then a hit), in another thread and another process."""
    expected = {str(pk): Category.objects.get(pk=pk).name for pk in pks}

    def here() -> dict[str, str]:
        return {str(pk): django_distcache.get_object(Category, pk).name for pk in pks}

    assert here() == expected
    assert here() == expected
    assert run_in_thread(here) == expected
    assert read_in_other_process(port, pks) == expected


def pause(server) -> None:
    os.kill(server.process.pid, signal.SIGSTOP)


def resume(server) -> None:
    os.kill(server.process.pid, signal.SIGCONT)


def test_paused_redis_answers_from_the_database_without_waiting_then_nothing_is_stale(
    redis_process, categories, django_assert_num_queries
):
    server = redis_process()
    timeout = 1.0
    with app_on(server.url, REDIS_TIMEOUT=timeout):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        untouched = categories[-1]
        committed = dict.fromkeys(categories, 0)
        lock = threading.Lock()
        reads: list[tuple[bool, float, bool]] = []  # (breaker open at start, seconds, stale)
        writes: list[float] = []
        writing = threading.Event()
        writing.set()

        def reader() -> None:
            while writing.is_set():
                pk = random.choice(categories)
                with lock:
                    floor = committed[pk]
                was_open = breaker.is_open()
                started = time.monotonic()
                name = django_distcache.get_object(Category, pk).name
                reads.append((was_open, time.monotonic() - started, version(name) < floor))

        def writer(pk: int, atomic: bool) -> None:
            new_version = 0
            while writing.is_set():
                new_version += 1
                started = time.monotonic()
                rename(pk, new_version, atomic=atomic)
                writes.append(time.monotonic() - started)
                with lock:
                    committed[pk] = new_version

        pause(server)
        try:
            readers = [in_thread(reader) for _ in range(3)]
            writers = [
                in_thread(writer, categories[0], True),
                in_thread(writer, categories[1], False),
            ]
            write_in_process_then_kill(server.port, categories[2], "c2-v9")
            wait_for(lambda: len(writes) >= 10, "writes during the pause")
            assert breaker.is_open()
            assert OutboxEntry.objects.filter(payload__isnull=False).count() >= 11
        finally:
            resume(server)
        # Reads and writes go on while the breaker recovers and after it closes.
        wait_until_cache_used_again()
        written = len(writes)
        wait_for(lambda: len(writes) >= written + 10, "writes after the recovery")
        writing.clear()
        for thread in [*writers, *readers]:
            thread.join(HANG)

        assert reads
        assert not any(stale for _open, _seconds, stale in reads)
        # None waits longer than one socket timeout (plus its database work) ...
        assert max(seconds for _open, seconds, _stale in reads) < timeout + 2
        assert max(writes) < timeout + 2
        # ... and requests made while the breaker was open do not wait on Redis at all.
        while_open = [seconds for was_open, seconds, _stale in reads if was_open]
        assert while_open
        assert max(while_open) < timeout
        assert outbox.figures()["waiting"] == 0
        assert_fresh_everywhere(server.port, categories)
        # Replayed key by key: what no write touched is still cached.
        with django_assert_num_queries(0):
            django_distcache.get_object(Category, untouched)


def test_stopped_then_restarted_empty(redis_process, categories):
    server = redis_process()
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        server.stop()
        rename(categories[0], 1)
        rename(categories[1], 1, atomic=False)
        assert django_distcache.get_object(Category, categories[0]).name == "c0-v1"
        server.start()
        wait_until_cache_used_again()
        assert outbox.figures()["waiting"] == 0
        assert_fresh_everywhere(server.port, categories)


def test_restarted_from_an_older_snapshot_after_a_writer_was_killed(redis_process, categories):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        admin.save()  # the snapshot holds every entry at v0
        rename(categories[0], 1)  # applied and acknowledged after the snapshot
        server.process.kill()  # no save at shutdown: the snapshot is what comes back
        server.process.wait()
        write_in_process_then_kill(server.port, categories[1], "c1-v1")
        server.start()
        django_distcache.get_object(Category, categories[2])  # notices the restart
        wait_until_cache_used_again()
        assert_fresh_everywhere(server.port, categories)


def test_snapshot_older_than_the_outbox_floor_is_treated_as_empty(redis_process, categories):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        admin.save()
        rename(categories[0], 1)
        # The replay task deletes the acknowledged rows: the database alone no longer has them.
        assert outbox.replay()["deleted"] >= 1
        assert OutboxEntry.objects.count() == 0
        server.process.kill()
        server.process.wait()
        server.start()
        django_distcache.get_object(Category, categories[2])
        wait_until_cache_used_again()
        assert admin.exists("dctest:gen:epoch")
        assert_fresh_everywhere(server.port, categories)


def test_promoted_replica_that_missed_invalidations(redis_process, categories):
    primary = redis_process()
    # The replication link goes through a proxy that is cut below. (A paused replica would
    # still read what the primary sent meanwhile from its socket once resumed.)
    link = TcpProxy(target_port=primary.port)
    link.start()
    replica = redis_process("--replicaof", "127.0.0.1", str(link.port))
    proxy = TcpProxy(target_port=primary.port)
    proxy.start()
    with app_on(f"redis://127.0.0.1:{proxy.port}/0"):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        assert redis.Redis(port=primary.port).wait(1, HANG * 1000) == 1
        link.cut()  # the replica misses what follows
        rename(categories[0], 1)
        outbox.replay()  # the acknowledged row is deleted
        rename(categories[1], 1)  # acknowledged by the primary only
        primary.process.kill()
        primary.process.wait()
        promoted = redis.Redis(port=replica.port)
        promoted.replicaof("NO", "ONE")
        assert promoted.hget("{dctest:outbox}:floor", "default") is None  # it really missed
        proxy.cut()
        proxy.target_port = replica.port
        proxy.start()
        django_distcache.get_object(Category, categories[2])  # notices the switch
        wait_until_cache_used_again()
        assert_fresh_everywhere(proxy.port, categories)
    proxy.cut()
    link.cut()


def test_invalidation_takes_effect_when_redis_refuses_writes(redis_process, categories, caplog):
    server = redis_process("--maxmemory-policy", "noeviction")
    admin = redis.Redis(port=server.port)
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        admin.mset({f"filler:{i}": b"x" * 10_000 for i in range(300)})
        admin.config_set("maxmemory", "1mb")  # far below what it holds: every write refused
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            admin.set("one-more", 1)
        rename(categories[0], 1)
        rename(categories[1], 1, atomic=False)
        rename(categories[0], 2)
        assert_fresh_everywhere(server.port, categories)
        # Applied and acknowledged all the same: nothing waits.
        assert outbox.figures()["waiting"] == 0
        assert "did not reach Redis" not in caplog.text
        admin.config_set("maxmemory", "0")
        # Deleting the acknowledged rows records a floor in Redis: it needs memory. Three
        # rows: each transaction's, and the one the write outside a transaction carried.
        assert outbox.replay() == {
            "replayed": 0,
            "deleted": 3,
            "emptied": False,
            "lost_state": False,
        }
        assert OutboxEntry.objects.count() == 0


def assert_outage_is_visible(admin_client, waiting: int) -> None:
    """Statistics, ``distcache_stats`` and the dashboard show the open breaker and the outbox."""
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.urls import reverse

    from django_distcache.stats.snapshot import snapshot

    snap = snapshot()
    assert snap["outages"]["state"] in ("open", "probing")
    assert snap["outages"]["outbox"]["waiting"] == waiting
    assert any(f"{waiting} invalidations wait in the outbox" in w for w in snap["warnings"])
    out = StringIO()
    # It shows the outage, then ends with the error like every command with Redis down.
    with pytest.raises(CommandError, match="Redis is unavailable"):
        call_command("distcache_stats", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert any(f"{waiting} invalidations wait" in w["warning"] for w in shown["health_warnings"])
    assert shown["write_behind"][0]["error"].startswith("Redis is unavailable")
    rows = shown["outages"]
    assert rows[0]["state"] in ("open", "probing")
    assert rows[0]["bypassed"] > 0
    assert rows[-1] == {
        "redis": "outbox",
        "state": "waiting",
        "waiting": waiting,
        "oldest_age": rows[-1]["oldest_age"],
    }
    page = admin_client.get(reverse("admin:django_distcache_dashboard_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="outbox-waiting">{waiting}<' in html
    assert 'id="breaker-state">open<' in html or 'id="breaker-state">probing<' in html


def test_invalidation_refused_by_a_read_only_replica_waits_and_says_so_once(
    redis_process, categories, caplog, admin_client
):
    primary = redis_process()
    replica = redis_process("--replicaof", "127.0.0.1", str(primary.port))
    with app_on(replica.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)  # reads work on a replica
        replica_client = redis.Redis(port=replica.port)
        wait_for(lambda: replica_client.info("replication")["master_link_status"] == "up", "sync")
        rename(categories[0], 1)
        rename(categories[1], 1, atomic=False)
        assert caplog.text.count("did not reach Redis") == 1
        assert "dctest:gen:model:testapp.category" in caplog.text
        assert breaker.is_open()
        assert outbox.figures()["waiting"] == 2
        assert django_distcache.get_object(Category, categories[0]).name == "c0-v1"
        assert_outage_is_visible(admin_client, waiting=2)
        replica_client.replicaof("NO", "ONE")  # the operator promotes it
        wait_until_cache_used_again()
        assert outbox.figures()["waiting"] == 0
        assert_fresh_everywhere(replica.port, categories)


def test_generation_keys_evicted_by_allkeys_lru_serve_nothing_stale(redis_process, categories):
    server = redis_process("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    admin = redis.Redis(port=server.port)
    generation = "dctest:gen:objects:testapp.category"
    evicted_generation = False
    with app_on(server.url):
        for round_ in range(1, 8):
            for pk in categories:
                django_distcache.get_object(Category, pk)
            for filler in range(600):
                admin.set(f"filler:{round_}:{filler}", b"x" * 10_000)
            evicted_generation |= not admin.exists(generation)
            rename(random.choice(categories), round_)
            for pk in categories:
                assert (
                    django_distcache.get_object(Category, pk).name
                    == Category.objects.get(pk=pk).name
                )
        assert admin.info("stats")["evicted_keys"] > 0
        assert evicted_generation
        assert_fresh_everywhere(server.port, categories)


def test_a_row_whose_writer_died_before_applying_it_empties_the_cache(redis_process, categories):
    server = redis_process()
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        # As if the writer committed and died at once: its row has no keys.
        Category.objects.filter(pk=categories[0]).update(name="c0-v1")
        OutboxEntry.objects.create()
        assert outbox.replay(due_only=True)["replayed"] == 0  # its writer may be at it
        assert outbox.replay(due_only=False) == {
            "replayed": 1,
            "deleted": 1,
            "emptied": True,
            "lost_state": False,
        }
        assert_fresh_everywhere(server.port, categories)


def test_while_open_only_one_probe_runs_and_nothing_reaches_redis(redis_process, categories):
    server = redis_process()
    with app_on(server.url, RETRY_REDIS_AFTER=0.5):
        pause(server)
        try:
            started = time.monotonic()
            django_distcache.get_object(Category, categories[0])  # waits one timeout, trips
            assert time.monotonic() - started < HANG
            before = breaker.cache_breaker().bypassed
            for _ in range(50):
                django_distcache.get_object(Category, categories[0])
            probes = [t for t in threading.enumerate() if t.name.startswith("distcache-breaker")]
            assert len(probes) == 1
            assert breaker.cache_breaker().bypassed >= before + 50
            assert breaker.figures()[0]["state"] in ("open", "probing")
        finally:
            resume(server)
        wait_until_cache_used_again()
        figures = breaker.cache_breaker().figures()
        assert figures["state"] == "closed"
        assert figures["trips"] == 1
        assert figures["seconds_open"] > 0


def test_every_path_bypasses_redis_while_the_breaker_is_open(redis_process, categories):
    from django.core.management import CommandError, call_command

    from django_distcache import operations, stats
    from django_distcache.stats.snapshot import snapshot

    server = redis_process()
    with app_on(server.url, RETRY_REDIS_AFTER=60):
        pause(server)
        try:
            django_distcache.get_object(Category, categories[0])  # trips
            assert breaker.is_open()
            started = time.monotonic()
            rename(categories[0], 1)  # the invalidation at commit goes to the outbox
            assert stats.flush() is False
            assert snapshot()["redis"]["available"] is False
            with pytest.raises(operations.OperationFailed):
                operations.run_warmers("categories")
            with pytest.raises(operations.OperationFailed):
                operations.flush_write_behind(None)
            with pytest.raises(operations.OperationFailed):
                operations.invalidate_namespace("testapp.category")
            with pytest.raises(CommandError, match="Redis is unavailable"):
                call_command("distcache_inspect", "some-key")
            # Nothing above waited for the paused Redis.
            assert time.monotonic() - started < FAST["REDIS_TIMEOUT"] * 4
        finally:
            resume(server)


def test_write_behind_during_an_outage_follows_its_overflow_setting(redis_process):
    from django_distcache.writebehind import WriteBehindUnavailable
    from tests.factories import ProductFactory
    from tests.testapp.models import Product

    server = redis_process()
    product = ProductFactory(stock=0)
    with app_on(server.url, RETRY_REDIS_AFTER=60, STATS_ENABLED=False):
        server.stop()
        # The process's statistics or hot-key flusher may have met the stopped server
        # first: this call is to be the first to meet it.
        breaker.reset()
        # The first call meets the connection error itself: raised, never hidden.
        with pytest.raises(redis.exceptions.ConnectionError):
            django_distcache.write_behind_incr(Product, product.pk, "stock")
        # While the breaker is open nothing is sent: the write goes through to the database.
        django_distcache.write_behind_incr(Product, product.pk, "stock", 2)
        assert Product.objects.get(pk=product.pk).stock == 2
        with override_settings(
            DISTCACHE={
                **settings.DISTCACHE,
                **FAST,
                "RETRY_REDIS_AFTER": 60,
                "WRITE_BEHIND_OVERFLOW": "raise",
            }
        ):
            breaker.trip(redis.exceptions.ConnectionError("down"))
            with pytest.raises(WriteBehindUnavailable, match="unavailable"):
                django_distcache.write_behind_incr(Product, product.pk, "stock")
        assert Product.objects.get(pk=product.pk).stock == 2
