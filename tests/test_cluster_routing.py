"""Routing on Redis Cluster: keys grouped per node, one round trip per node, resharding."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from django.core.cache import caches
from redis.cluster import RedisCluster

from django_distcache.redis.slots import keys_by_node, keys_by_slot, per_slot
from tests.cluster import (
    LoggingConnection,
    RedisClusterProcesses,
    error_replies,
    one_request_per_node_first,
    requests_sent,
    wire_events,
)

BACKEND = "django_distcache.redis.cluster.RedisClusterCache"
MOVED_SLOTS = 500


@pytest.fixture
def counted_cache(settings, redis_cluster: RedisClusterProcesses):
    """A cluster cache whose connections count the requests they send."""
    settings.CACHES = {
        **settings.CACHES,
        "counted": {
            "BACKEND": BACKEND,
            "LOCATION": redis_cluster.url,
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": LoggingConnection}},
        },
    }
    cache = caches["counted"]
    # The slot table is read once, when the client is made, and each node's connection
    # says hello when opened: both before counting.
    cache.get_many([f"warm-up{i}" for i in range(100)])
    yield cache
    redis_cluster.flush()


def test_keys_by_node_matches_where_the_cluster_stores_them(redis_cluster):
    cluster = RedisCluster.from_url(redis_cluster.url)
    keys = [f"item:{i}" for i in range(200)]
    groups = keys_by_node(cluster, keys)
    assert sorted(groups) == sorted(node.name for node in cluster.get_primaries())
    assert sorted(key for group in groups.values() for key in group) == sorted(keys)
    cluster.mset_nonatomic(dict.fromkeys(keys, 1))
    for node in redis_cluster.masters():
        with node.connection() as direct:  # a plain connection: a key elsewhere is MOVED
            for key in groups[node.address]:
                assert direct.exists(key) == 1
    redis_cluster.flush()


def test_the_cluster_fixture_skips_by_name_without_the_binaries(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no redis-server on it
    with pytest.raises(pytest.skip.Exception, match="redis-server and redis-cli"):
        RedisClusterProcesses(tmp_path)


def test_keys_by_slot_honours_hash_tags():
    groups = keys_by_slot(["{user:1}:entry", "{user:1}:lease", "other"])
    assert ["{user:1}:entry", "{user:1}:lease"] in groups.values()
    assert len(groups) == 2


def test_per_slot_runs_a_multi_key_command_across_slots(redis_cluster):
    cluster = RedisCluster.from_url(redis_cluster.url)
    keys = [f"k{i}" for i in range(50)]
    cluster.mset_nonatomic(dict.fromkeys(keys, 1))
    assert sum(per_slot(cluster, "DEL", keys)) == 50
    assert cluster.exists(*keys) == 0


def test_get_many_of_100_keys_is_one_round_trip_per_node(counted_cache):
    values = {f"key{i}": i for i in range(100)}
    assert requests_sent(lambda: counted_cache.set_many(values)) == 3
    assert requests_sent(lambda: counted_cache.get_many(list(values))) == 3
    assert requests_sent(lambda: counted_cache.delete_many(list(values))) == 3


def test_get_many_reaches_every_node_before_any_reply_is_read(settings, redis_cluster):
    settings.CACHES = {
        **settings.CACHES,
        "logged": {
            "BACKEND": BACKEND,
            "LOCATION": redis_cluster.url,
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": LoggingConnection}},
        },
    }
    cache = caches["logged"]
    keys = [f"key{i}" for i in range(100)]
    cache.set_many(dict.fromkeys(keys, 1))
    assert one_request_per_node_first(lambda: cache.get_many(keys), 3)
    redis_cluster.flush()


def test_a_hit_is_one_round_trip_to_one_node(counted_cache):
    counted_cache.set("key", "value")
    assert requests_sent(lambda: counted_cache.get("key")) == 1


def test_resharding_under_load_reaches_no_caller(settings, redis_cluster):
    """Slots move between masters (MOVED, ASK) while a thread writes and reads them."""
    settings.CACHES = {
        **settings.CACHES,
        "logged": {
            "BACKEND": BACKEND,
            "LOCATION": redis_cluster.url,
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": LoggingConnection}},
        },
    }
    cache = caches["logged"]
    cluster = cache.client.get_client()
    source, target = cluster.get_primaries()[:2]
    slot_owner = cluster.nodes_manager.get_node_from_slot
    owned = [s for s in range(16384) if slot_owner(s).name == source.name]
    # redis-cli moves a source's lowest slots first: the load touches some of those.
    moving = set(owned[:MOVED_SLOTS])
    names = [f"key{i}" for i in range(2000)]
    load_keys = [n for n in names if cluster.keyslot(cache.make_key(n)) in moving][:10]
    load_keys += names[:10]
    # Keys of one slot read by one MGET: mid-migration, that slot answers TRYAGAIN.
    tag = next(f"t{i}" for i in range(10_000) if cluster.keyslot(f"{{t{i}}}") in moving)
    load_keys += [f"{{{tag}}}:{i}" for i in range(5)]
    node_ids = {
        name: info["node_id"]
        for name, info in cluster.cluster_nodes().items()
        if "master" in info["flags"]
    }
    error_replies.clear()
    errors: list[BaseException] = []
    stale: list[tuple[str, object, object]] = []
    done = threading.Event()
    rounds = 0

    def load() -> None:
        nonlocal rounds
        while not done.is_set():
            rounds += 1
            try:
                for key in load_keys:
                    cache.set(key, rounds)
                for key, value in cache.get_many(load_keys).items():
                    if value != rounds:
                        stale.append((key, value, rounds))
            except Exception as exc:  # every error counts, whatever its type
                errors.append(exc)

    worker = threading.Thread(target=load)
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
    fresh = RedisCluster.from_url(redis_cluster.url)
    made = [cache.make_key(key) for key in load_keys[:10]]
    assert {fresh.get_node_from_key(key).name for key in made} == {target.name}
    assert errors == []
    assert stale == []
    assert rounds > moved_at
    assert error_replies["MovedError"] > 0  # redirections happened, and were absorbed
    redis_cluster.flush()
    wire_events.clear()
