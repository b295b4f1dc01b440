"""Concurrency: the stale-set race, stampedes, dead lease holders, two-process stress."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

import django_distcache
from django_distcache import keys, stats
from django_distcache.redis.client import get_redis
from tests.factories import ProductFactory
from tests.testapp.models import Product
from tests.threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


class PauseAfterSelect:
    """An execute wrapper that holds a reader right after its SELECT returned."""

    def __init__(self) -> None:
        self.selected = threading.Event()
        self.proceed = threading.Event()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("SELECT"):
            self.selected.set()
            assert self.proceed.wait(10)
        return result


def misses(namespace: str) -> int:
    """The misses this process counted in ``namespace``, flushed to Redis or not."""
    flushed = stats.recorder.read_flushed()["counts"].get(namespace, {}).get("misses", 0)
    return flushed + stats.local_counts().get((namespace, "misses"), 0)


def wait_for_misses(namespace: str, count: int, timeout: float = 30) -> None:
    """Wait until ``count`` readers have missed: each of them found the entry absent
    and, but the first, the lease taken (a hang guard only bounds it)."""
    deadline = time.monotonic() + timeout
    while misses(namespace) < count:
        assert time.monotonic() < deadline, f"{misses(namespace)} of {count} readers missed"
        time.sleep(0.01)


def read_paused(pk, pause, results):
    with connection.execute_wrapper(pause):
        try:
            results.append(django_distcache.get_object(Product, pk).name)
        except Product.DoesNotExist:
            results.append(None)


def test_stale_set_race_leaves_no_stale_entry():
    product = ProductFactory(name="old")
    pause, results = PauseAfterSelect(), []
    reader = in_thread(read_paused, product.pk, pause, results)
    assert pause.selected.wait(10)  # the reader missed and read "old" from the database
    product.name = "new"
    product.save()  # commits and invalidates while the reader holds "old"
    pause.proceed.set()
    reader.join()
    assert results == ["old"]  # what the reader read is what it returns
    assert django_distcache.get_object(Product, product.pk).name == "new"


def test_concurrent_create_leaves_no_cached_miss():
    pause, results = PauseAfterSelect(), []
    reader = in_thread(read_paused, 777_001, pause, results)
    assert pause.selected.wait(10)  # the reader found no row
    Product.objects.create(pk=777_001, name="created")
    pause.proceed.set()
    reader.join()
    assert results == [None]
    assert django_distcache.get_object(Product, 777_001).name == "created"


@pytest.fixture
def counted_misses(settings):
    """Statistics on; a waiter that gives up loads itself, so waiters are patient."""
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": True, "MAX_WAIT": 60}


def test_stampede_of_50_threads_loads_once(counted_misses):
    calls = []
    start = threading.Barrier(50)
    values = []

    def load():
        calls.append(1)
        wait_for_misses("get_or_set", 50)  # the 49 others are waiting for this load
        return {"answer": 42}

    def reader():
        start.wait()
        values.append(django_distcache.get_or_set("stampede", load))

    threads = [in_thread(reader) for _ in range(50)]
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert values == [{"answer": 42}] * 50


def test_stampede_on_get_object_runs_one_query(counted_misses):
    product = ProductFactory()
    queries = []
    start = threading.Barrier(50)

    def count(execute, sql, params, many, context):
        if "testapp_product" in sql:
            queries.append(sql)
            wait_for_misses("testapp.product", 50)  # the 49 others wait for this query
        return execute(sql, params, many, context)

    def reader():
        with connection.execute_wrapper(count):
            start.wait()
            django_distcache.get_object(Product, product.pk)

    threads = [in_thread(reader) for _ in range(50)]
    for thread in threads:
        thread.join()
    assert len(queries) == 1


def child_env():
    env = dict(os.environ)
    env["DISTCACHE_STRESS_DB_NAME"] = connection.settings_dict["NAME"]
    env["DJANGO_SETTINGS_MODULE"] = "tests.stress_settings"
    return env


HOLDER = """
import django, time
django.setup()
import django_distcache
def load():
    print("loading", flush=True)
    time.sleep(60)
django_distcache.get_or_set("held", load)
"""


def test_dead_lease_holder_is_replaced_by_a_waiter(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 0.5, "MAX_WAIT": 60}
    env = child_env()
    env["DISTCACHE_LEASE_TIMEOUT"] = "0.5"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "loading"
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        calls = []
        started = time.monotonic()
        value = django_distcache.get_or_set("held", lambda: calls.append(1) or "mine")
        waited = time.monotonic() - started
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
        holder.wait()
    assert value == "mine"
    assert calls == [1]
    assert waited < 30  # the lease expired after 0.5 s and the waiter loaded (not MAX_WAIT)


def test_waiter_gives_up_after_max_wait_and_loads_without_storing(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 30, "MAX_WAIT": 0.3}
    holder_inside = threading.Event()
    release = threading.Event()

    def slow_load():
        holder_inside.set()
        release.wait(10)
        return "holder"

    holder = in_thread(lambda: django_distcache.get_or_set("slow", slow_load))
    assert holder_inside.wait(10)
    started = time.monotonic()
    assert django_distcache.get_or_set("slow", lambda: "impatient") == "impatient"
    assert 0.3 <= time.monotonic() - started < 3
    release.set()
    holder.join()
    assert django_distcache.get_or_set("slow", lambda: "third") == "holder"


def test_failing_loader_releases_the_lease_for_waiters(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 60, "MAX_WAIT": 60}

    def broken():
        raise ValueError("database said no")

    with pytest.raises(ValueError, match="said no"):
        django_distcache.get_or_set("broken", broken)
    lease = keys.lease_key(keys.entry_base("key", "get_or_set", "broken"))
    assert not get_redis().exists(lease)  # given up at once, not left to expire
    started = time.monotonic()
    assert django_distcache.get_or_set("broken", lambda: "ok") == "ok"
    assert time.monotonic() - started < 30  # not waiting out the lease or MAX_WAIT


def test_two_process_stress_has_no_stale_reads_after_commit():
    ProductFactory.create_batch(8, stock=0)
    get_redis().delete(
        *[f"stress:committed:{pk}" for pk in Product.objects.values_list("pk", flat=True)]
    )
    env = child_env()
    roles = [("writer", 1), ("writer", 2), ("reader", 3), ("reader", 4)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.stress", role, "4", str(seed)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, seed in roles
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    summary = dict.fromkeys(("writer", "reader"), 0)
    for out, err in outputs:
        role, operations, stale = out.split()
        assert stale == "stale=0", err
        summary[role] += int(operations.split("=")[1])
    # enough work that the interleavings were exercised, even on a busy machine
    assert summary["writer"] > 40
    assert summary["reader"] > 150
