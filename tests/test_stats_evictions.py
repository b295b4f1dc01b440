"""The eviction listener counts Redis evictions per namespace from keyspace notifications."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from django.core.management import CommandError, call_command

import django_distcache
from django_distcache.redis.client import get_redis
from django_distcache.stats import evictions, recorder
from django_distcache.stats.namespaces import namespace_of_key
from tests.cache_override import cache_on
from tests.cluster import RedisClusterProcesses, app_on_cluster


def test_keys_map_to_their_namespaces():
    assert namespace_of_key("dctest:v1:obj:testapp.product.1a2b3c4d:7@1.2") == "testapp.product"
    assert namespace_of_key("dctest:v1:fn:shop.views.menu:[]@3") == "shop.views.menu"
    assert namespace_of_key("dctest:v1:key:get_or_set:home@") == "get_or_set"
    assert namespace_of_key("dctest:gen:model:testapp.product") == "(generations)"
    assert namespace_of_key("dctest:stats") == "(statistics)"
    assert namespace_of_key("someone-else:key") == "(other keys)"


def _evictions() -> dict[str, int]:
    recorder.flush()
    counts = recorder.read_flushed()["counts"]
    return {ns: c["evictions"] for ns, c in counts.items() if "evictions" in c}


# The first connection to a new server replays the outbox (the database) before use.
@pytest.mark.django_db
def test_every_eviction_is_counted_under_its_namespace(redis_process):
    server = redis_process(
        "--maxmemory",
        "2mb",
        "--maxmemory-policy",
        # Only keys with a TTL (entries) go; generations and statistics stay.
        "volatile-lru",
        "--notify-keyspace-events",
        "Ee",
    )
    with cache_on(server.url):
        by_namespace, evicted = _fill_until_counted(
            threading.Event(), lambda: get_redis().info("stats")["evicted_keys"]
        )
        assert evictions.listener_status() == {"running": False}
    assert evicted > 100
    assert sum(by_namespace.values()) == evicted
    assert by_namespace["get_or_set"] > 0


def _fill_until_counted(stop: threading.Event, evicted_now) -> tuple[dict[str, int], int]:  # type: ignore[no-untyped-def]
    """Start the listener, fill the cache until Redis evicts, and wait until the counts per
    namespace add up to ``evicted_now()``; the counts and ``evicted_now()``, read together
    (counting writes to Redis too, which may evict more)."""
    listener = threading.Thread(target=evictions.listen, args=(stop,))
    listener.start()
    try:
        deadline = time.monotonic() + 30  # guards against a hang only
        while not evictions.listener_status()["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert evictions.notifications_enabled(
            evictions.listener_status()["notify_keyspace_events"]
        )
        for index in range(600):
            # Random, so that compression keeps it about 10 kB.
            django_distcache.get_or_set(f"big-{index}", lambda: secrets.token_hex(10_000))
        deadline = time.monotonic() + 30  # guards against a hang only
        while time.monotonic() < deadline:
            by_namespace = _evictions()
            evicted = evicted_now()
            if sum(by_namespace.values()) == evicted:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        listener.join(timeout=30)
    return by_namespace, evicted


@pytest.mark.django_db(transaction=True)
def test_on_a_cluster_the_evictions_of_every_primary_are_counted(
    settings, cluster_without_replicas: RedisClusterProcesses
):
    from django_distcache.redis import breaker, client

    app_on_cluster(settings, cluster_without_replicas)
    masters = cluster_without_replicas.masters()
    for node in masters:
        with node.connection() as conn:
            # About 1 MB of room on each node; entries (they have a TTL) are evicted.
            conn.config_set("maxmemory", conn.info("memory")["used_memory"] + 1_000_000)
            conn.config_set("maxmemory-policy", "volatile-lru")
            conn.config_set("notify-keyspace-events", "Ee")

    def evicted_now() -> int:
        return sum(node.info("stats")["evicted_keys"] for node in masters)

    try:
        by_namespace, evicted = _fill_until_counted(threading.Event(), evicted_now)
    finally:
        client.reset()
        breaker.reset()
    per_node = [node.info("stats")["evicted_keys"] for node in masters]
    assert len(per_node) == 3
    assert all(count > 0 for count in per_node), per_node
    assert sum(by_namespace.values()) == evicted
    assert by_namespace["get_or_set"] > 0


def test_the_command_runs_for_a_while_and_checks_its_argument():
    call_command("distcache_evictions", "--seconds", "0.3")
    with pytest.raises(CommandError, match="--seconds must be a positive number"):
        call_command("distcache_evictions", "--seconds", "0")
