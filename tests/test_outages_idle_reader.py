"""A process that saw nothing of an outage never trusts a Redis that came back without state.

The reader processes here read once, then stay idle while Redis is restarted from an
older snapshot or replaced by a replica that missed invalidations; nothing else talks to
Redis before they read again (no process that saw the outage recovers it, no replay task
runs). Their next reads must not return the entries the lost invalidations removed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

import django_distcache
from django_distcache import outbox
from django_distcache.models import OutboxEntry
from django_distcache.redis import breaker
from tests.test_outages import (
    HANG,
    app_on,
    process_env,
    read_in_other_process,
    rename,
    wait_until_cache_used_again,
)
from tests.testapp.models import Category
from tests.workers import ROOT, TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def categories() -> list[int]:
    return [Category.objects.create(name=f"c{i}-v0").pk for i in range(6)]


class IdleReader:
    """A long-lived reader process (``tests.outage_process serve``)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def read(self, where: str) -> dict[str, str]:
        """Read every pk again: in a new thread (``"thread"``) or the one held since."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{where}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())


@contextmanager
def idle_reader(port: int, pks: list[int]) -> Iterator[IdleReader]:
    """A reader process that has read ``pks`` once (cached them) and waits."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.outage_process", "serve", *map(str, pks)],
        cwd=ROOT,
        env=process_env(port),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield IdleReader(process)
        finally:
            process.kill()
            process.wait(timeout=HANG)


def committed(pks: list[int]) -> dict[str, str]:
    return {str(pk): Category.objects.get(pk=pk).name for pk in pks}


def restart_from_snapshot(server) -> None:
    """Kill Redis without a save and start it again: it loads the snapshot taken before."""
    server.process.kill()
    server.process.wait()
    server.start()


@pytest.mark.parametrize("where", ["thread", "held"])
def test_idle_reader_after_a_restart_from_an_older_snapshot(redis_process, categories, where):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url), idle_reader(server.port, categories) as reader:
        admin.save()  # the snapshot holds every entry at v0
        rename(categories[0], 1)  # applied and acknowledged after the snapshot
        rename(categories[1], 1, atomic=False)
        restart_from_snapshot(server)
        assert list(admin.scan_iter(match="dctest:v*testapp.category*"))  # entries came back
        assert reader.read(where) == committed(categories)
        assert reader.read("thread") == committed(categories)


def test_new_process_after_a_restart_from_a_snapshot_older_than_the_floor(
    redis_process, categories
):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url), idle_reader(server.port, categories) as reader:
        admin.save()
        rename(categories[0], 1)
        # The replay task deletes the acknowledged row: only the floor remembers it.
        assert outbox.replay()["deleted"] == 1
        assert OutboxEntry.objects.count() == 0
        restart_from_snapshot(server)
        assert read_in_other_process(server.port, categories) == committed(categories)
        assert reader.read("thread") == committed(categories)


def test_idle_reader_after_a_replica_that_missed_invalidations_is_promoted(
    redis_process, categories
):
    primary = redis_process()
    link = TcpProxy(target_port=primary.port)  # the replication link, cut below
    link.start()
    replica = redis_process("--replicaof", "127.0.0.1", str(link.port))
    proxy = TcpProxy(target_port=primary.port)  # what the app connects to
    proxy.start()
    try:
        with (
            app_on(f"redis://127.0.0.1:{proxy.port}/0"),
            idle_reader(proxy.port, categories) as reader,
        ):
            assert redis.Redis(port=primary.port).wait(1, HANG * 1000) == 1
            link.cut()  # the replica misses what follows
            rename(categories[0], 1)
            outbox.replay()  # the acknowledged row is deleted
            rename(categories[1], 1)  # acknowledged by the primary only
            floor = int(redis.Redis(port=primary.port).hget("{dctest:outbox}:floor", "default"))
            primary.process.kill()
            primary.process.wait()
            promoted = redis.Redis(port=replica.port)
            promoted.replicaof("NO", "ONE")
            # The replica missed the deletion round that raised the primary's floor.
            assert int(promoted.hget("{dctest:outbox}:floor", "default") or 0) < floor
            proxy.cut()
            proxy.target_port = replica.port
            proxy.start()
            assert reader.read("thread") == committed(categories)
            assert reader.read("held") == committed(categories)
    finally:
        proxy.cut()
        link.cut()


def test_the_check_costs_one_round_trip_per_new_connection_and_none_per_read(
    redis_process, categories
):
    server = redis_process()
    admin = redis.Redis(port=server.port)

    def checks() -> int:
        return admin.info("commandstats").get("cmdstat_script|exists", {}).get("calls", 0)

    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        rename(categories[0], 1)
        connections = checks()
        assert connections >= 1
        for _ in range(20):
            for pk in categories:
                django_distcache.get_object(Category, pk)
        assert checks() == connections
        # A new process connects: it checks once per connection and finds the marker.
        assert read_in_other_process(server.port, categories) == committed(categories)
        assert checks() > connections


def test_a_write_kept_while_its_breaker_is_open_is_applied_once_redis_is_back(
    redis_process, categories
):
    server = redis_process()
    # Probe turns a minute apart: only a probe woken by the kept write can close it.
    with app_on(server.url, RETRY_REDIS_AFTER=60), idle_reader(server.port, categories) as reader:
        server.stop()
        django_distcache.get_object(Category, categories[0])  # this process's breaker opens
        assert breaker.is_open()
        server.start()
        # The reader, which saw nothing, recovers the new server and uses it.
        assert reader.read("thread") == committed(categories)
        # This process still bypasses Redis: its write waits in the outbox, and the
        # breaker's probe replays it at once instead of a minute later.
        rename(categories[0], 1)
        wait_until_cache_used_again()
        assert outbox.figures()["waiting"] == 0
        assert reader.read("thread") == committed(categories)
        assert reader.read("held") == committed(categories)


def test_the_replay_task_on_a_restarted_server_recovers_it_without_waiting_on_itself(
    redis_process, categories
):
    server = redis_process()
    with app_on(server.url):
        for pk in categories:
            django_distcache.get_object(Category, pk)
        rename(categories[0], 1)
        assert outbox.replay()["deleted"] == 1  # the floor row exists (and is locked below)
        rename(categories[1], 1)
        restart_from_snapshot(server)  # no snapshot was taken: it comes back empty
        # As the periodic task runs it: its first connection finds the server unmarked.
        started = time.monotonic()
        outbox.replay()
        assert time.monotonic() - started < 5  # not the 10 s recovery timeout
        assert not breaker.is_open()
        # The floor went with the restart: the server was treated as empty.
        assert redis.Redis(port=server.port).exists("dctest:gen:epoch")
        assert read_in_other_process(server.port, categories) == committed(categories)
