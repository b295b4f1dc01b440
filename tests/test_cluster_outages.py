"""A cluster that is down or failing over: callers see RedisError subclasses, then recovery."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import redis
from django.core.cache import caches
from redis.backoff import NoBackoff
from redis.exceptions import ClusterDownError, RedisClusterException, RedisError
from redis.retry import Retry

import django_distcache
from django_distcache.redis import breaker
from tests.cluster import RedisClusterProcesses, fail_over, wait_for
from tests.testapp.models import Category

BACKEND = "django_distcache.redis.cluster.RedisClusterCache"


def _use(settings, cluster: RedisClusterProcesses) -> None:
    # redis-py retries a failing command 10 times with backoff (about 3 s): "fast" retries once.
    fast = {"CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 1)}}
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": cluster.location},
        "fast": {"BACKEND": BACKEND, "LOCATION": cluster.location, "OPTIONS": fast},
        "tolerant": {
            "BACKEND": BACKEND,
            "LOCATION": cluster.location,
            "OPTIONS": {**fast, "IGNORE_EXCEPTIONS": True},
        },
    }


def test_cluster_down_is_a_redis_error_and_a_miss_when_errors_are_ignored(
    settings, cluster_without_replicas
):
    _use(settings, cluster_without_replicas)
    cache = caches["fast"]
    cache.set_many({f"key{i}": i for i in range(30)})
    lost = cluster_without_replicas.masters()[0]
    survivors = [node for node in cluster_without_replicas.running() if node is not lost]
    lost.kill()
    wait_for(
        lambda: all(node.cluster_info()["cluster_state"] == "fail" for node in survivors),
        "the survivors to declare the cluster down",
    )
    # Every key, on a surviving master or on the lost one, fails with a RedisError.
    for key in ("key0", "key1", "key2", "key3"):
        with pytest.raises(RedisError):
            cache.get(key)
    with pytest.raises(RedisError):
        cache.get_many([f"key{i}" for i in range(30)])
    with pytest.raises(RedisError):
        cache.set("key0", "new")
    # On a surviving master's slot the answer is CLUSTERDOWN itself.
    survivor_key = next(
        f"key{i}"
        for i in range(30)
        if cache.client.get_client().get_node_from_key(cache.make_key(f"key{i}")).port != lost.port
    )
    with pytest.raises(ClusterDownError):
        cache.get(survivor_key)
    with pytest.raises(ClusterDownError):  # after redis-py's default retries, the same
        caches["cluster"].get(survivor_key)
    assert caches["tolerant"].get("key0", "fallback") == "fallback"


def test_whole_cluster_lost_is_a_redis_connection_error(settings, cluster_without_replicas):
    _use(settings, cluster_without_replicas)
    cache = caches["fast"]
    cache.set_many({f"key{i}": i for i in range(30)})  # the client knows the cluster
    for node in cluster_without_replicas.nodes:
        node.kill()
    calls = {
        "get": lambda: cache.get("key0"),
        "get_many": lambda: cache.get_many([f"key{i}" for i in range(30)]),
        "set": lambda: cache.set("key0", 1),
        "set_many": lambda: cache.set_many({"key0": 1, "key1": 2}),
        "delete_many": lambda: cache.delete_many(["key0", "key1"]),
        "incr": lambda: cache.incr("key0"),
        "clear": cache.clear,
    }
    escaped = {}  # what each call raised instead of a redis ConnectionError
    for name, call in calls.items():
        try:
            call()
        except redis.ConnectionError:
            continue
        except Exception as exc:  # redis-py's own is RedisClusterException, not a RedisError
            escaped[name] = type(exc).__name__
        else:
            escaped[name] = "nothing"
    assert escaped == {}
    assert caches["tolerant"].get("key0", "fallback") == "fallback"
    assert caches["tolerant"].get_many(["key0", "key1"]) in ({}, None)


def test_keys_of_several_slots_in_one_command_stay_a_programming_error(
    settings, cluster_without_replicas
):
    _use(settings, cluster_without_replicas)
    client = caches["fast"].client.get_client()
    with pytest.raises(RedisClusterException, match="same key slot"):
        client.mget("a", "b", "c")


def test_master_failover_under_load_errors_are_bounded(settings, failover_cluster):
    _use(settings, failover_cluster)
    cache = caches["cluster"]
    keys = [f"key{i}" for i in range(30)]
    cache.set_many(dict.fromkeys(keys, 0))
    errors: list[tuple[float, BaseException]] = []
    successes: list[float] = []
    stale: list[str] = []
    done = threading.Event()

    def load() -> None:
        value = 0
        while not done.is_set():
            value += 1
            try:
                cache.set_many(dict.fromkeys(keys, value))
                if any(v != value for v in cache.get_many(keys).values()):
                    stale.append(f"round {value}")
                successes.append(time.monotonic())
            except Exception as exc:  # every error counts, whatever its type
                errors.append((time.monotonic(), exc))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_for(lambda: len(successes) >= 5, "the load to run")
        killed_at = time.monotonic()
        fail_over(failover_cluster)
        promoted_at = time.monotonic()
        wait_for(lambda: successes and successes[-1] > promoted_at + 1, "the load to recover")
        recovered = len(successes)
        wait_for(lambda: len(successes) >= recovered + 20, "20 more rounds")
    finally:
        done.set()
        worker.join(timeout=60)
    assert all(isinstance(exc, RedisError) for _, exc in errors), errors
    assert all(killed_at <= at for at, _ in errors)
    # Nothing failed once the load had recovered after the promotion.
    assert not [at for at, _ in errors if at > successes[recovered - 1]]
    assert stale == []
    assert isinstance(errors[0][1], (redis.ConnectionError, ClusterDownError)) if errors else True


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("near_cache", [False, True], ids=["redis", "near_cache"])
def test_a_cluster_out_of_reach_from_the_start_falls_back_to_the_database(settings, near_cache):
    """The cluster's client connects when it is made: a cluster down when the process starts
    must read like any outage (the database answers, the breaker opens, no wait per read)."""
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": f"redis://127.0.0.1:{_closed_port()}"},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_ALIAS": "cluster", "RETRY_REDIS_AFTER": 60}
    django_distcache.register(Category, near_cache=near_cache)
    category = Category.objects.create(name="from the database")
    for _ in range(3):
        assert django_distcache.get_object(Category, category.pk).name == "from the database"
    assert breaker.is_open()
    assert breaker.cache_breaker().trips == 1
