"""The near cache through a Redis Cluster failover: every process's near cache empties."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster

import django_distcache
from django_distcache.reads.channel import channel_names
from django_distcache.registry import get_config
from tests.cluster import (
    ClusterNode,
    RedisClusterProcesses,
    app_on_cluster,
    fail_over,
    started_cluster,
)
from tests.test_near_cache import (  # noqa: F401  (the fixture)
    NearProcess,
    processes,
    sequence,
    wait_for,
)
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def near_cluster(settings, monkeypatch, failover_cluster) -> Iterator[RedisClusterProcesses]:
    """The app's cache on a cluster of its own (a master of it is killed), here and in the
    processes the test starts."""
    from django_distcache.redis import breaker, client

    monkeypatch.setenv("DISTCACHE_TEST_CLUSTER", failover_cluster.location)
    app_on_cluster(settings, failover_cluster)
    settings.DISTCACHE = {**settings.DISTCACHE, "RETRY_REDIS_AFTER": 0.2}
    yield failover_cluster
    client.reset()
    breaker.reset()


def master_of_the_sequence(cluster: RedisClusterProcesses, holding: bool) -> ClusterNode:
    """The master holding the near cache's sequence (``holding``), or another one."""
    with RedisCluster.from_url(cluster.url) as raw:
        port = raw.get_node_from_key(channel_names()[1]).port
    return next(node for node in cluster.masters() if (node.port == port) == holding)


def filled(other: NearProcess, pk: int) -> dict:
    for _ in range(2):  # the first makes the generations, the second fills L1
        other.ask("read", pk)
    near = other.ask("read", pk)["near"]
    assert near["entries"] == 1
    return near


def test_a_failover_of_another_master_empties_every_near_cache(near_cluster, processes):  # noqa: F811
    """The promoted replica may lack invalidations its master applied: its recovery
    restarts the epoch and tells every near cache to empty itself."""
    categories = [Category.objects.create(name=f"c{i}") for i in range(30)]
    other = processes()
    clears = filled(other, categories[0].pk)["clears"]
    fail_over(near_cluster, master_of_the_sequence(near_cluster, holding=False))
    pks = [category.pk for category in categories]

    def recovered() -> bool:
        # Reads reach every master, the promoted one too: its first connection recovers it.
        django_distcache.get_objects(Category, pks)
        return other.ask("info")["near"]["clears"] > clears

    wait_for(recovered, timeout=60)
    near = other.ask("info")["near"]
    assert near["entries"] == 0
    assert near["live"]  # its subscriber, on the master holding the sequence, stayed
    assert other.ask("read", categories[0].pk)["name"] == "c0"


def test_a_failover_of_the_sequences_master_empties_l1_and_subscribes_again(
    near_cluster,
    processes,  # noqa: F811
):
    """The subscriber's connection is lost with its master: L1 empties, and the
    subscriber follows the sequence to the promoted replica."""
    category = Category.objects.create(name="old")
    other = processes()
    clears = filled(other, category.pk)["clears"]
    fail_over(near_cluster, master_of_the_sequence(near_cluster, holding=True))
    wait_for(lambda: other.ask("info")["near"]["clears"] > clears, timeout=30)
    assert other.ask("info")["near"]["entries"] == 0
    wait_for(lambda: other.ask("info")["near"]["live"], timeout=60)
    # Listening again, on the promoted replica: a write of this process reaches it.
    filled(other, category.pk)
    Category.objects.filter(pk=category.pk).update(name="new")
    assert other.ask("wait", sequence())["near"]["entries"] == 0
    assert other.ask("read", category.pk)["name"] == "new"


@pytest.fixture
def patient_cluster(settings, monkeypatch) -> Iterator[RedisClusterProcesses]:
    """Three masters, no replica, a long node timeout (a paused node is not failed over),
    the app's cache on it, here and in the processes the test starts."""
    from django_distcache.redis import breaker, client

    for cluster in started_cluster(masters=3, replicas=0):
        monkeypatch.setenv("DISTCACHE_TEST_CLUSTER", cluster.location)
        app_on_cluster(settings, cluster)
        settings.DISTCACHE = {**settings.DISTCACHE, "REDIS_TIMEOUT": 0.3, "RETRY_REDIS_AFTER": 0.2}
        yield cluster
        client.reset()
        breaker.reset()


def test_an_invalidation_a_node_could_not_apply_empties_every_near_cache(
    patient_cluster,
    processes,  # noqa: F811
):
    """Its other parts may have been applied, and it was never published: every near
    cache is told to empty itself."""
    with RedisCluster.from_url(patient_cluster.url) as raw:
        sequence_on = raw.get_node_from_key(channel_names()[1]).port
        config = get_config(Category)
        # A row whose entry is on another node than the sequence (the subscribers stay).
        category = next(
            c
            for c in (Category.objects.create(name="before") for _ in range(20))
            if raw.get_node_from_key(config.object_base(c.pk)).port != sequence_on
        )
        holder = raw.get_node_from_key(config.object_base(category.pk)).port
    other = processes()
    clears = filled(other, category.pk)["clears"]
    paused = next(node for node in patient_cluster.masters() if node.port == holder)
    os.kill(paused.process.pid, signal.SIGSTOP)
    try:
        category.name = "after"
        category.save()  # its entry's part cannot be applied: it waits in the outbox
        wait_for(lambda: other.ask("info")["near"]["clears"] > clears, timeout=10)
        assert other.ask("info")["near"]["entries"] == 0
    finally:
        os.kill(paused.process.pid, signal.SIGCONT)
