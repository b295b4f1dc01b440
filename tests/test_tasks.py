"""Write-behind guarantees shown with real Celery worker processes and a real broker."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

import django_distcache
from django_distcache import tasks
from django_distcache.writebehind import backlog, dead_letters, flush_write_behind
from tests.factories import ProductFactory
from tests.testapp.models import Product
from tests.workers import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

# Workers take short leases so a killed worker's batch is recovered quickly.
FAST = {"WRITE_BEHIND_LEASE_TIMEOUT": 2.0, "WRITE_BEHIND_BATCH_SIZE": 25}


def stocks(pks) -> dict[int, int]:
    return dict(Product.objects.filter(pk__in=pks).values_list("pk", "stock"))


def wait_until(condition, timeout: float = 30.0, message: str = "", pause: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(pause)
    # A condition may say what it still lacks (see settled_exactly_once).
    raise AssertionError(f"timed out waiting: {message} {getattr(condition, 'left', '')}")


def settled_exactly_once(expected: Counter, counts: Counter | None = None):
    """A condition: flush here (recovering what killed flushes left, once their leases
    ran out) and say whether every write is applied, none twice (that fails at once)."""
    pks = list(expected)

    def settled() -> bool:
        flushed = flush_write_behind(Product)
        if counts is not None:
            counts.update(flushed)
        now = stocks(pks)
        doubled = {pk: (now[pk], expected[pk]) for pk in pks if now[pk] > expected[pk]}
        assert not doubled, f"increments applied twice (now, expected): {doubled}"
        short = {pk: (now[pk], expected[pk]) for pk in pks if now[pk] != expected[pk]}
        waiting = backlog()
        settled.left = f"(short (now, expected): {short}; backlog: {waiting})"  # type: ignore[attr-defined]
        return not short and waiting == []

    return settled


def queue_flush():
    return tasks.flush_write_behind.apply_async(args=["testapp.product"], queue="distcache")


@pytest.mark.usefixtures("app_cache")
def test_flush_task_on_a_worker_applies_the_writes(start_worker):
    start_worker()
    products = ProductFactory.create_batch(3, stock=0)
    for product in products:
        for _ in range(4):
            django_distcache.write_behind_incr(Product, product.pk, "stock")
    counts = queue_flush().get(timeout=30)
    assert (counts["rows"], counts["writes"], counts["coalesced"]) == (3, 12, 9)
    assert set(stocks([p.pk for p in products]).values()) == {4}
    # A redelivered or duplicated flush changes nothing.
    again = queue_flush().get(timeout=30)
    assert again["rows"] == 0
    assert set(stocks([p.pk for p in products]).values()) == {4}


@pytest.mark.usefixtures("app_cache")
def test_reaching_the_batch_size_starts_a_flush(start_worker, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_BATCH_SIZE": 5}
    start_worker()
    products = ProductFactory.create_batch(5, stock=0)
    for product in products[:4]:
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    # The worker takes tasks in order, one at a time: once a later task has run, a
    # flush the fourth row had queued would have run too.
    tasks.flush_write_behind.apply_async(args=["testapp.tag"], queue="distcache").get(timeout=30)
    assert set(stocks([p.pk for p in products]).values()) == {0}
    django_distcache.write_behind_incr(Product, products[4].pk, "stock")
    wait_until(
        lambda: set(stocks([p.pk for p in products]).values()) == {1},
        message="flush triggered by the batch size",
    )


def test_worker_dead_letters_bad_rows_and_applies_the_rest(start_worker):
    start_worker()
    gone, kept = ProductFactory.create_batch(2, stock=0)
    django_distcache.write_behind_incr(Product, kept.pk, "stock")
    gone_pk = gone.pk
    gone.delete()
    django_distcache.write_behind_incr(Product, gone_pk, "stock")  # made after the delete
    counts = queue_flush().get(timeout=30)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 1)
    assert stocks([kept.pk]) == {kept.pk: 1}
    assert [d["pk"] for d in dead_letters(Product)] == [str(gone_pk)]


def _slow_updates(enable: bool) -> None:
    """A trigger that makes each row update take about a millisecond, so kills land
    inside flush transactions."""
    with connection.cursor() as cursor:
        if enable:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION distcache_test_slow() RETURNS trigger AS "
                "$$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER distcache_test_slow BEFORE UPDATE ON testapp_product "
                "FOR EACH ROW EXECUTE FUNCTION distcache_test_slow()"
            )
        else:
            cursor.execute("DROP TRIGGER IF EXISTS distcache_test_slow ON testapp_product")


@pytest.fixture
def slow_updates():
    _slow_updates(True)
    yield
    _slow_updates(False)


@pytest.mark.usefixtures("app_cache")
def test_killed_worker_loses_no_write_and_doubles_no_increment(
    start_worker, slow_updates, raw_redis, settings
):
    settings.DISTCACHE = {**settings.DISTCACHE, **FAST}
    rng = random.Random(7)
    claimed = "dctest:wb:{testapp.product}:claimed"
    products = ProductFactory.create_batch(150, stock=0)
    pks = [p.pk for p in products]
    expected: Counter[int] = Counter()
    worker = start_worker("killed", FAST)
    kills = 0
    for _round in range(10):
        for _ in range(300):
            pk = rng.choice(pks)
            amount = rng.randint(1, 5)
            django_distcache.write_behind_incr(Product, pk, "stock", by=amount)
            expected[pk] += amount
        queue_flush()
        # Kill at a random point while a batch is in flight: before its transaction,
        # inside it, or between its commit and its acknowledgement.
        wait_until(lambda: raw_redis.hlen(claimed) > 0, timeout=10, message="a claimed batch")
        time.sleep(rng.uniform(0, 0.05))
        worker.kill()
        kills += 1
        worker.start()
    assert kills == 10
    counts: Counter[str] = Counter()
    wait_until(
        settled_exactly_once(expected, counts),
        timeout=60,
        message="every write applied once",
        pause=0.2,
    )
    assert stocks(pks) == {pk: expected[pk] for pk in pks}
    # Kills landed inside flushes: batches were left behind and recovered.
    log = worker.log_path.read_text(errors="replace")
    recoveries = counts["recovered"] + log.count("recovered batch")
    assert recoveries >= 5
    assert backlog() == []
    assert "flush_write_behind" in worker.output()


@pytest.mark.usefixtures("app_cache")
def test_two_workers_apply_each_write_once_and_the_last_value_wins(start_worker, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, **FAST}
    rng = random.Random(11)
    products = ProductFactory.create_batch(100, stock=0, name="v0")
    pks = [p.pk for p in products]
    start_worker("first", FAST)
    start_worker("second", FAST)
    expected: Counter[int] = Counter()
    last_name: dict[int, str] = {}
    results = []
    for step in range(2000):
        product = products[rng.randrange(len(products))]
        if step % 3:
            django_distcache.write_behind_incr(Product, product.pk, "stock")
            expected[product.pk] += 1
        else:
            product.name = f"v{step}"
            django_distcache.write_behind(product, fields=["name"])
            last_name[product.pk] = product.name
        if step % 200 == 0:
            results += [queue_flush(), queue_flush()]
    results += [queue_flush(), queue_flush()]
    totals = Counter()
    for result in results:
        totals.update(result.get(timeout=60))
    assert totals["rows"] > 0
    db = dict(Product.objects.filter(pk__in=pks).values_list("pk", "name"))
    assert stocks(pks) == {pk: expected[pk] for pk in pks}
    assert {pk: db[pk] for pk in last_name} == last_name
    for pk in pks:
        assert django_distcache.get_object(Product, pk).stock == expected[pk]
    assert backlog() == []


def test_sigterm_during_a_flush_finishes_the_batch(start_worker):
    worker = start_worker("terminated")
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
    ) as blocker:
        # Lock the table so the flush waits inside its transaction (a held row lock
        # alone would only make it skip the row).
        blocker.execute("LOCK TABLE testapp_product IN EXCLUSIVE MODE")
        queue_flush()
        wait_until(lambda: backlog() and backlog()[0]["in_flight"] == 1, message="claimed")
        worker.process.send_signal(15)
        wait_until(lambda: "Warm shutdown" in worker.output(), message="the warm shutdown")
        assert worker.process.poll() is None, "warm shutdown waits for the running flush"
        blocker.rollback()
    assert worker.process.wait(timeout=30) == 0
    assert stocks([product.pk]) == {product.pk: 5}
    assert backlog() == []


def test_database_down_for_seconds_delays_the_flush(start_worker):
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.start()
    worker = start_worker("cut-off", db_port=proxy.port)
    products = ProductFactory.create_batch(20, stock=0)
    queue_flush().get(timeout=30)  # the worker has a database connection through the proxy
    proxy.cut()
    for product in products:
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    queue_flush()
    # The flush found the database down and was put off (Celery logs the retry).
    wait_until(lambda: "retry: Retry in" in worker.output(), message="the flush put off")
    assert set(stocks([p.pk for p in products]).values()) == {0}
    assert backlog()[0]["pending"] == 20
    proxy.start()
    restored = time.monotonic()
    wait_until(
        lambda: set(stocks([p.pk for p in products]).values()) == {2},
        timeout=30,
        message="flush after the database came back",
    )
    assert time.monotonic() - restored < 20
    # Acknowledged in Redis just after the rows' commit.
    wait_until(lambda: backlog() == [], timeout=10, message="the flush acknowledged")
    assert dead_letters(Product) == []


def test_beat_schedule_flushes_on_its_interval(start_worker, tmp_path):
    from django_distcache.beat import BEAT_SCHEDULE
    from tests.workers import ROOT, worker_env

    entry = BEAT_SCHEDULE["distcache-flush-write-behind"]
    assert entry["task"] == "django_distcache.flush_write_behind"
    assert entry["options"]["queue"] == "distcache"
    start_worker("scheduled")
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=7)
    with (tmp_path / "beat.log").open("wb") as log:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "beat",
                "-s",
                str(tmp_path / "schedule"),
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=worker_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # Generous (not a speed assertion): a loaded machine may take half a minute to start
        # beat and the worker; its first flush is due an interval later.
        wait_until(lambda: stocks([product.pk]) == {product.pk: 7}, timeout=90, message="beat")
    finally:
        beat.terminate()
        beat.wait(timeout=10)


def test_commit_whose_answer_is_lost_is_not_applied_again(start_worker):
    """The connection drops after COMMIT reached PostgreSQL, before its answer came back."""
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.start()
    start_worker("commit-lost", db_port=proxy.port)
    products = ProductFactory.create_batch(5, stock=0)
    pks = [p.pk for p in products]
    for pk in pks:
        django_distcache.write_behind_incr(Product, pk, "stock", by=3)
    proxy.cut_after_commit()
    queue_flush()
    wait_until(lambda: backlog() == [], message="the batch settled")
    assert proxy.commits_cut == 1
    assert stocks(pks) == {pk: 3 for pk in pks}
    # Later flushes find nothing to apply again.
    assert queue_flush().get(timeout=30)["rows"] == 0
    assert stocks(pks) == {pk: 3 for pk in pks}
    proxy.cut()


RABBITMQ_URL = os.environ.get(
    "DISTCACHE_TEST_RABBITMQ_URL",
    f"amqp://guest:guest@127.0.0.1:5672/distcache{os.environ.get('DISTCACHE_TEST_SUFFIX', '')}",
)


@pytest.fixture
def rabbitmq():
    """A Celery app that sends to RabbitMQ (its own vhost; results in the tests' Redis)."""
    from celery import Celery
    from django.conf import settings
    from kombu import Connection

    vhost = RABBITMQ_URL.rsplit("/", 1)[1]
    if shutil.which("rabbitmqctl"):  # the tests' own vhost, created once
        for command in (
            ["add_vhost", vhost],
            ["set_permissions", "-p", vhost, "guest"] + [".*"] * 3,
        ):
            subprocess.run(["rabbitmqctl", *command], capture_output=True, timeout=60)
    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as probe:
            probe.ensure_connection(max_retries=1)
            with contextlib.suppress(Exception):
                probe.default_channel.queue_purge("distcache")
    except Exception as exc:  # any way of not answering
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {exc}")
    sender = Celery(
        "rabbitmq-sender",
        broker=RABBITMQ_URL,
        backend=settings.CELERY_RESULT_BACKEND,
        set_as_current=False,  # the project's app stays the current one
    )
    yield sender
    sender.close()


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", **FAST})
def test_killed_worker_on_rabbitmq_loses_no_write_and_doubles_no_increment(
    start_worker, rabbitmq, slow_updates, raw_redis
):
    rng = random.Random(5)
    claimed = "dctest:wb:{testapp.product}:claimed"
    products = ProductFactory.create_batch(60, stock=0)
    pks = [p.pk for p in products]
    expected: Counter[int] = Counter()
    worker = start_worker("rabbit", FAST, broker_url=RABBITMQ_URL)
    for _round in range(4):
        for _ in range(150):
            pk = rng.choice(pks)
            django_distcache.write_behind_incr(Product, pk, "stock", by=1)
            expected[pk] += 1
        rabbitmq.send_task(
            "django_distcache.flush_write_behind", args=["testapp.product"], queue="distcache"
        )
        wait_until(lambda: raw_redis.hlen(claimed) > 0, timeout=20, message="a claimed batch")
        time.sleep(rng.uniform(0, 0.05))
        worker.kill()
        worker.start()  # RabbitMQ delivers the unacknowledged flush again
    final = rabbitmq.send_task(
        "django_distcache.flush_write_behind", args=["testapp.product"], queue="distcache"
    )
    final.get(timeout=60)

    wait_until(
        settled_exactly_once(expected), timeout=60, message="every write applied once", pause=0.2
    )
    assert stocks(pks) == {pk: expected[pk] for pk in pks}
    assert "flush_write_behind" in worker.output()
