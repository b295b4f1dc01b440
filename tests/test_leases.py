"""Leases never stall readers: refused stores, newer generations, slow loaders, get_objects."""

import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

import django_distcache
from django_distcache import keys, stats
from django_distcache.redis.client import get_redis
from django_distcache.registry import get_config
from django_distcache.stats import recorder
from tests.factories import ProductFactory
from tests.test_races import ROOT, PauseAfterSelect, child_env, read_paused
from tests.testapp.models import Product
from tests.threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def lease_of(name: str) -> str:
    return keys.lease_key(keys.entry_base("key", "get_or_set", name))


def product_list() -> list[str]:
    return sorted(Product.objects.values_list("name", flat=True))


def test_refused_store_releases_its_lease_at_once(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 30, "MAX_WAIT": 30}
    product = ProductFactory(name="before")

    def load_while_another_process_writes():
        names = product_list()
        product.name = "after"
        product.save()  # commits: the Product generation moves on before the store
        return names

    got = django_distcache.get_or_set(
        "names", load_while_another_process_writes, depends_on=[Product]
    )
    assert got == ["before"]
    assert not get_redis().exists(lease_of("names"))  # the refused store gave the lease up
    calls = []
    loader = lambda: calls.append(1) or product_list()  # noqa: E731
    assert django_distcache.get_or_set("names", loader, depends_on=[Product]) == ["after"]
    assert django_distcache.get_or_set("names", loader, depends_on=[Product]) == ["after"]
    assert calls == [1]  # loaded once, stored, then a hit


def test_reader_under_a_newer_generation_takes_over_an_older_lease(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 30, "MAX_WAIT": 30}
    product = ProductFactory(name="before")
    inside, finish, results = threading.Event(), threading.Event(), []

    def slow_old_load():
        names = product_list()
        inside.set()
        assert finish.wait(30)
        return names

    holder = in_thread(
        lambda: results.append(
            django_distcache.get_or_set("names", slow_old_load, depends_on=[Product])
        )
    )
    try:
        assert inside.wait(10)  # the holder read "before" under the old generation
        product.name = "after"
        product.save()
        calls = []
        loader = lambda: calls.append(1) or product_list()  # noqa: E731
        # Neither read waits for the holder, which is still loading.
        assert django_distcache.get_or_set("names", loader, depends_on=[Product]) == ["after"]
        assert django_distcache.get_or_set("names", loader, depends_on=[Product]) == ["after"]
        assert calls == [1]
        assert holder.is_alive()
    finally:
        finish.set()
        holder.join()
    assert results == [["before"]]
    assert django_distcache.get_or_set("names", lambda: "again", depends_on=[Product]) == ["after"]


WRITER = """
import django, sys
django.setup()
from tests.testapp.models import Product
print("writing", flush=True)
for i in range(int(sys.argv[1])):
    for product in Product.objects.all():
        product.stock += 1
        product.save()
"""


def slow_product_list():
    names = product_list()
    time.sleep(0.01)  # a load long enough for the writer's commits to land during it
    return names


def test_reads_while_another_process_writes_never_wait_out_max_wait(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 30, "MAX_WAIT": 1}
    ProductFactory.create_batch(3)
    stats.reset()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, "150"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    reads = 0
    try:
        assert writer.stdout.readline().strip() == "writing"
        while writer.poll() is None or reads < 20:
            django_distcache.get_or_set("stocks", slow_product_list, depends_on=[Product])
            reads += 1
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
        writer.wait()
    assert writer.returncode == 0
    stats.flush()  # what this process counted, with what its flusher already sent
    counts = recorder.read_flushed()["counts"]["get_or_set"]
    assert counts["misses"] >= 5  # the writes made the reads load again and again
    assert counts.get("wait_timeouts", 0) == 0, (reads, counts)


def test_loader_slower_than_the_lease_keeps_it_and_is_stored_once(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 0.3, "MAX_WAIT": 20}
    inside, calls, results = threading.Event(), [], []

    def slow_load():
        calls.append("holder")
        inside.set()
        time.sleep(1.5)  # five lease timeouts
        return "holder"

    holder = in_thread(lambda: results.append(django_distcache.get_or_set("slow", slow_load)))
    assert inside.wait(10)
    waiter = django_distcache.get_or_set("slow", lambda: calls.append("waiter") or "waiter")
    holder.join()
    assert waiter == "holder"
    assert results == ["holder"]
    assert calls == ["holder"]
    assert django_distcache.get_or_set("slow", lambda: "third") == "holder"


def test_get_objects_waits_for_a_key_another_reader_is_loading():
    first, second = ProductFactory(name="first"), ProductFactory(name="second")
    pause, held = PauseAfterSelect(), []
    holder = in_thread(read_paused, first.pk, pause, held)
    loaded_here, queried = [], threading.Event()

    def record(execute, sql, params, many, context):
        if "testapp_product" in sql:
            loaded_here.append(params)
            queried.set()
        return execute(sql, params, many, context)

    found = {}

    def read_both():
        with connection.execute_wrapper(record):
            found.update(django_distcache.get_objects(Product, [first.pk, second.pk]))

    try:
        assert pause.selected.wait(10)  # the holder has the lease on "first"
        reader = in_thread(read_both)
        assert queried.wait(10)  # the reader loaded what it leased
    finally:
        pause.proceed.set()
        holder.join()
    reader.join()
    assert {pk: p.name for pk, p in found.items()} == {first.pk: "first", second.pk: "second"}
    assert [list(params) for params in loaded_here] == [[second.pk]]
    assert held == ["first"]


def test_get_objects_releases_its_leases_when_its_query_raises(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 30, "MAX_WAIT": 30}
    products = ProductFactory.create_batch(2)
    config = get_config(Product)

    def refuse(execute, sql, params, many, context):
        raise RuntimeError("database said no")

    with connection.execute_wrapper(refuse), pytest.raises(RuntimeError, match="said no"):
        django_distcache.get_objects(Product, [p.pk for p in products])
    leases = [keys.lease_key(config.object_base(p.pk)) for p in products]
    assert get_redis().exists(*leases) == 0
    assert set(django_distcache.get_objects(Product, [p.pk for p in products])) == {
        p.pk for p in products
    }


SLOW_HOLDER = """
import django, time
django.setup()
import django_distcache
def load():
    print("loading", flush=True)
    time.sleep(1.5)  # five lease timeouts
    return "holder"
print(django_distcache.get_or_set("slow-process", load), flush=True)
"""


def test_a_slow_loader_in_another_process_is_waited_for_not_replaced(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 0.3, "MAX_WAIT": 20}
    env = child_env()
    env["DISTCACHE_LEASE_TIMEOUT"] = "0.3"
    holder = subprocess.Popen(
        [sys.executable, "-c", SLOW_HOLDER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    calls = []
    try:
        assert holder.stdout.readline().strip() == "loading"
        value = django_distcache.get_or_set("slow-process", lambda: calls.append(1) or "waiter")
        assert holder.stdout.readline().strip() == "holder"
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
        holder.wait()
    assert value == "holder"
    assert calls == []
