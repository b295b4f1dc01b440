"""The app's entries through a Redis Cluster failover: reads and writes go on, nothing stale."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connections
from redis.cluster import RedisCluster

import django_distcache
from django_distcache.outbox.keys import epoch_key
from django_distcache.redis import breaker
from django_distcache.redis.recovered import marker_script
from tests.cluster import (
    RedisClusterProcesses,
    app_on_cluster,
    fail_over,
    started_cluster,
    wait_for,
)
from tests.factories import CategoryFactory
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def test_master_failover_under_reads_and_writes_serves_nothing_stale(settings, failover_cluster):
    app_on_cluster(settings, failover_cluster)
    categories = CategoryFactory.create_batch(30)
    pks = [category.pk for category in categories]
    django_distcache.get_objects(Category, pks)
    raw = RedisCluster.from_url(failover_cluster.url)
    epoch_before = raw.get(epoch_key())
    errors: list[tuple[float, BaseException]] = []
    stale: list[str] = []
    rounds: list[float] = []
    done = threading.Event()

    def work() -> None:
        # Writes then reads its own writes, and reads every row: a value read must be
        # the committed one (this thread is the only writer).
        names = {pk: Category.objects.get(pk=pk).name for pk in pks}
        number = 0
        try:
            while not done.is_set():
                number += 1
                pk = pks[number % len(pks)]
                try:
                    Category.objects.filter(pk=pk).update(name=f"round {number}")
                    names[pk] = f"round {number}"
                    if django_distcache.get_object(Category, pk).name != names[pk]:
                        stale.append(f"round {number}: own write of {pk}")
                    read = django_distcache.get_objects(Category, pks)
                    stale.extend(
                        f"round {number}: {k}" for k, obj in read.items() if obj.name != names[k]
                    )
                    rounds.append(time.monotonic())
                except Exception as exc:  # every error reaching the caller counts
                    errors.append((time.monotonic(), exc))
        finally:
            connections.close_all()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        wait_for(lambda: len(rounds) >= 20, "the load to run")
        promoted = fail_over(failover_cluster)
        promoted_at = time.monotonic()
        wait_for(lambda: rounds and rounds[-1] > promoted_at + 1, "the load to recover")
        recovered = len(rounds)
        wait_for(lambda: len(rounds) >= recovered + 30, "30 more rounds")
    finally:
        done.set()
        worker.join(timeout=60)
    assert errors == []  # Redis errors fall back to the database; none reaches the caller
    assert stale == []
    cache_breaker = breaker.cache_breaker()
    assert cache_breaker.state == breaker.CLOSED
    # The promoted node was recovered (the outbox replayed, the epoch started again), and
    # marked so: every primary now carries the marker.
    _body, sha = marker_script(0)
    with promoted.connection() as direct:
        assert direct.script_exists(sha) == [True]
    assert raw.get(epoch_key()) != epoch_before
    # Every entry read now is the database's row.
    assert {pk: obj.name for pk, obj in django_distcache.get_objects(Category, pks).items()} == {
        category.pk: category.name for category in Category.objects.filter(pk__in=pks)
    }
    raw.close()


def test_a_cluster_down_falls_back_to_the_database(settings, cluster_without_replicas):
    app_on_cluster(settings, cluster_without_replicas)
    settings.DISTCACHE = {**settings.DISTCACHE, "REDIS_TIMEOUT": 0.5}
    categories = CategoryFactory.create_batch(30)
    pks = [category.pk for category in categories]
    django_distcache.get_objects(Category, pks)
    cluster_without_replicas.masters()[0].kill()
    deadline = time.monotonic() + 5  # past the node timeout: the cluster says it is down
    while time.monotonic() < deadline:
        found = django_distcache.get_objects(Category, pks)
        assert sorted(found) == sorted(pks)
        assert django_distcache.get_object(Category, pks[0]) == categories[0]
        category = Category.objects.get(pk=pks[1])
        category.name = f"written at {time.monotonic()}"
        category.save()  # its invalidation waits in the outbox
        assert django_distcache.get_object(Category, pks[1]).name == category.name


@pytest.fixture
def patient_cluster() -> Iterator[RedisClusterProcesses]:
    """Three masters, no replica, a long node timeout: a paused node is not failed over."""
    yield from started_cluster(masters=3, replicas=0)


def test_an_invalidation_is_acknowledged_only_once_every_node_applied_it(settings, patient_cluster):
    import os
    import signal

    from django_distcache import outbox
    from django_distcache.models import OutboxEntry
    from django_distcache.outbox.keys import acked_key
    from django_distcache.registry import get_config

    app_on_cluster(settings, patient_cluster)
    settings.DISTCACHE = {**settings.DISTCACHE, "REDIS_TIMEOUT": 0.3, "RETRY_REDIS_AFTER": 0.2}
    raw = RedisCluster.from_url(patient_cluster.url)
    acks_on = raw.get_node_from_key(acked_key()).port
    # A row whose entry is on another node than the acknowledgements (read while paused).
    category = next(
        c
        for c in CategoryFactory.create_batch(20, name="before")
        if raw.get_node_from_key(get_config(Category).object_base(c.pk)).port != acks_on
    )
    django_distcache.get_object(Category, category.pk)
    entry = get_config(Category).object_base(category.pk)
    holder = raw.get_node_from_key(entry).port
    paused = next(node for node in patient_cluster.masters() if node.port == holder)
    OutboxEntry.objects.all().delete()
    os.kill(paused.process.pid, signal.SIGSTOP)
    try:
        category.name = "after"
        category.save()  # its entry's part cannot be applied: the row stays unacknowledged
        (row,) = OutboxEntry.objects.all()
        members = raw.smembers(acked_key())
        assert f"default:{row.pk}".encode() not in members
        assert django_distcache.get_object(Category, category.pk).name == "after"
    finally:
        os.kill(paused.process.pid, signal.SIGCONT)
    wait_for(lambda: breaker.cache_breaker().state == breaker.CLOSED, "the breaker to close")
    outbox.replay()
    assert django_distcache.get_object(Category, category.pk).name == "after"
    assert OutboxEntry.objects.count() == 0  # applied and acknowledged, then deleted
    raw.close()
