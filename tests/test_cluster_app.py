"""The app's own entries on a Redis Cluster: where they live, and what a read costs per node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.db import connections
from redis.cluster import RedisCluster
from redis.crc import key_slot

import django_distcache
from django_distcache import keys
from django_distcache.redis import breaker
from django_distcache.redis import client as app_client
from django_distcache.registry import get_config
from tests.cluster import (
    LoggingConnection,
    RedisClusterProcesses,
    app_on_cluster,
    requests_per_round,
    wait_for,
)
from tests.factories import CategoryFactory
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logged(settings, redis_cluster: RedisClusterProcesses) -> Iterator[RedisCluster]:
    """The app's cache on the cluster, its connections logging what they send and read."""
    app_on_cluster(
        settings,
        redis_cluster,
        CONNECTION_POOL_KWARGS={"connection_class": LoggingConnection},
    )
    # Statistics reach Redis from a thread of their own: not requests of the reads counted.
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    # Made before counting: the slot table is read and each node's connection says hello.
    django_distcache.get_objects(Category, range(1000, 1100))
    raw = RedisCluster.from_url(redis_cluster.url)
    yield raw
    raw.close()
    app_client.reset()


def test_entries_and_their_leases_share_a_slot_on_the_cluster(logged, raw_redis):
    category = CategoryFactory()
    django_distcache.get_object(Category, category.pk)
    entry = get_config(Category).object_base(category.pk)
    assert logged.exists(entry) == 1
    assert raw_redis.exists(entry) == 0  # nothing on the single Redis
    assert key_slot(keys.lease_key(entry).encode()) == key_slot(entry.encode())


def test_get_objects_of_100_hits_is_one_round_trip_per_node(logged, django_assert_num_queries):
    pks = [category.pk for category in CategoryFactory.create_batch(100)]
    django_distcache.get_objects(Category, pks)
    with django_assert_num_queries(0):
        (only,) = requests_per_round(lambda: django_distcache.get_objects(Category, pks))
    assert sorted(only.values()) == [1, 1, 1]  # every node once, all sent before a reply


def test_get_objects_of_100_misses_is_three_rounds_of_one_request_per_node(logged):
    pks = [category.pk for category in CategoryFactory.create_batch(100)]
    found = requests_per_round(lambda: django_distcache.get_objects(Category, pks))
    # generations and entries; leases of the misses; the store (sent, read with the next).
    assert [sorted(one.values()) for one in found] == [[1, 1, 1]] * 3
    assert len(django_distcache.get_objects(Category, pks)) == 100


def test_a_hit_on_one_object_is_one_round_trip(logged, django_assert_num_queries):
    category = CategoryFactory()
    django_distcache.get_object(Category, category.pk)
    with django_assert_num_queries(0):
        (only,) = requests_per_round(lambda: django_distcache.get_object(Category, category.pk))
    # The entry's node and its generations' nodes, each asked once, in parallel.
    assert set(only.values()) == {1}


def test_a_near_cache_miss_with_its_generations_held_is_one_request_to_the_entrys_node(
    logged, django_assert_num_queries
):
    """The generations live in their own slots; held in the near cache, a read of an entry
    it lacks asks the entry's node alone."""
    from django_distcache.reads import near
    from tests.test_near_cache import settled

    django_distcache.register(Category, near_cache=True)
    category = CategoryFactory()
    near.reset()
    cache = near.near_cache()
    try:
        wait_for(lambda: cache.live, "the near cache to subscribe")
        settled(cache)
        for _ in range(2):  # the generations made, then the entry and its generations kept
            django_distcache.get_object(Category, category.pk)
        entry = get_config(Category).object_base(category.pk)
        assert entry in cache.entries
        cache.evict(entry)  # as the LRU bound does: its generations stay held
        with django_assert_num_queries(0):
            rounds = requests_per_round(lambda: django_distcache.get_object(Category, category.pk))
        assert rounds == [Counter({logged.get_node_from_key(entry).port: 1})]
        # Kept again: the next read sends nothing.
        assert requests_per_round(lambda: django_distcache.get_object(Category, category.pk)) == []
    finally:
        near.reset()


def test_update_invalidates_on_the_cluster(logged):
    category = CategoryFactory(name="before")
    assert django_distcache.get_object(Category, category.pk).name == "before"
    category.name = "after"
    category.save()
    assert django_distcache.get_object(Category, category.pk).name == "after"
    assert caches["default"] is not None


def test_warming_fills_the_cluster_and_loses_to_an_invalidation(logged, django_assert_num_queries):
    from django_distcache.outbox.keys import with_epoch
    from django_distcache.reads import readthrough
    from django_distcache.warming import warm
    from django_distcache.warming.objects import warm_lease

    categories = CategoryFactory.create_batch(5)
    (result,) = warm(["categories"])
    assert result["entries"] == Category.objects.count()
    with django_assert_num_queries(0):
        for category in categories:
            django_distcache.get_object(Category, category.pk)
    # A refresh whose row was read before a write committed stores nothing.
    config = get_config(Category)
    category = categories[0]
    base = config.object_base(category.pk)
    generations = warm_lease(with_epoch(config.generation_keys), [base], "tok")
    Category.objects.filter(pk=category.pk).update(name="after")
    stale = readthrough.serializer().dumps([category.pk, "before"])
    assert (
        readthrough.store(config.generation_keys, generations, [(base, "tok", stale, 60_000)]) == 0
    )
    assert django_distcache.get_object(Category, category.pk).name == "after"


MOVED_SLOTS = 500


def test_resharding_under_reads_and_writes_reaches_no_caller(logged, redis_cluster):
    """Slots holding entries move between masters while a thread writes and reads them."""
    import subprocess
    import threading
    import time

    from tests.cluster import error_replies

    source, target = logged.get_primaries()[:2]
    owner = logged.nodes_manager.get_node_from_slot
    owned = [slot for slot in range(16384) if owner(slot).name == source.name]
    moving = set(owned[:MOVED_SLOTS])  # redis-cli moves a source's lowest slots first
    config = get_config(Category)
    created = CategoryFactory.create_batch(600)
    in_moving = [c.pk for c in created if logged.keyslot(config.object_base(c.pk)) in moving]
    pks = in_moving[:15] + [c.pk for c in created[:15]]
    assert len(in_moving) >= 5
    node_ids = {
        name: info["node_id"]
        for name, info in logged.cluster_nodes().items()
        if "master" in info["flags"]
    }
    names = {pk: Category.objects.get(pk=pk).name for pk in pks}
    errors: list[BaseException] = []
    stale: list[str] = []
    done = threading.Event()
    rounds = 0

    def work() -> None:
        nonlocal rounds
        try:
            while not done.is_set():
                rounds += 1
                pk = pks[rounds % len(pks)]
                try:
                    Category.objects.filter(pk=pk).update(name=f"round {rounds}")
                    names[pk] = f"round {rounds}"
                    if django_distcache.get_object(Category, pk).name != names[pk]:
                        stale.append(f"own write of {pk} in round {rounds}")
                    for key, obj in django_distcache.get_objects(Category, pks).items():
                        if obj.name != names[key]:
                            stale.append(f"{key} in round {rounds}")
                except Exception as exc:  # every error reaching the caller counts
                    errors.append(exc)
        finally:
            connections.close_all()

    error_replies.clear()
    worker = threading.Thread(target=work)
    worker.start()
    try:
        subprocess.run(
            [
                redis_cluster.cli,
                "--cluster",
                "reshard",
                source.name,
                "--cluster-from",
                node_ids[source.name],
                "--cluster-to",
                node_ids[target.name],
                "--cluster-slots",
                str(MOVED_SLOTS),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        moved_at = rounds
        deadline = time.monotonic() + 30
        while rounds < moved_at + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        done.set()
        worker.join(timeout=30)
    assert errors == []
    assert stale == []
    assert error_replies["MovedError"] + error_replies["AskError"] > 0  # slots really moved
    assert rounds > moved_at
    assert breaker.cache_breaker().trips == 0  # no read fell back for want of Redis


def test_the_periodic_replay_keeps_the_cache_and_a_recovery_empties_it(
    settings, redis_cluster: RedisClusterProcesses, django_assert_num_queries
):
    """The replay task runs every few seconds: on a cluster it must not drop every entry
    each time (only a recovery, after a server restarted or was promoted, does)."""
    from django_distcache import outbox

    app_on_cluster(settings, redis_cluster)
    category = CategoryFactory(name="kept")
    django_distcache.get_object(Category, category.pk)  # loaded and stored
    for _ in range(3):
        assert outbox.replay()["emptied"] is False
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Category, category.pk).name == "kept"

    assert outbox.replay(due_only=False)["emptied"] is True  # what the breaker's recovery runs
    with django_assert_num_queries(1):
        assert django_distcache.get_object(Category, category.pk).name == "kept"
    app_client.reset()
