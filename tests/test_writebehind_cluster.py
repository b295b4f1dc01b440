"""Write-behind with its buffer on a Redis Cluster: where the buffer lives, a call sent once,
strict mode's WAIT on the slot's node, and the eviction check on every primary."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from django.core.checks import run_checks
from django.db import connections
from redis.cluster import RedisCluster
from redis.crc import key_slot

import django_distcache
from django_distcache.redis import breaker
from django_distcache.writebehind import WriteBehindNotReplicated, backlog, flush_write_behind
from django_distcache.writebehind.buffer import buffer_keys
from tests.cluster import (
    LoggingConnection,
    RedisClusterProcesses,
    app_on_cluster,
    error_replies,
    requests_per_round,
    started_cluster,
    wait_for,
)
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_cluster(settings, redis_cluster: RedisClusterProcesses) -> Iterator[RedisCluster]:
    """The app's cache, and so the buffer, on the cluster; a plain client of it."""
    app_on_cluster(settings, redis_cluster)
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    raw = RedisCluster.from_url(redis_cluster.url)
    yield raw
    raw.close()


def buffer_node(raw: RedisCluster) -> redis.Redis:
    """A plain client of the primary serving the Product buffer's slot."""
    node = raw.get_node_from_key(buffer_keys(Product).pending)
    return redis.Redis(host=node.host, port=node.port)


def stock_in_db(pk: int) -> int:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


def test_a_models_buffer_lives_in_one_slot_of_the_cluster(on_cluster):
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    bkeys = buffer_keys(Product)
    assert on_cluster.hget(bkeys.record(product.pk), "i:stock") == b"2"
    slots = {key_slot(key.encode()) for key in (bkeys.pending, bkeys.record(product.pk))}
    assert len(slots) == 1
    assert django_distcache.get_object(Product, product.pk).stock == 2
    assert flush_write_behind(Product)["rows"] == 1
    assert stock_in_db(product.pk) == 2
    assert backlog() == []


BUSY = """
local start = redis.call('TIME')
local began = start[1] * 1000000 + start[2]
repeat
  local now = redis.call('TIME')
until now[1] * 1000000 + now[2] - began > tonumber(ARGV[1])
"""


def test_a_write_whose_reply_is_lost_is_applied_once(on_cluster, settings):
    """The node is busy longer than the app waits: the call times out, runs once the
    node is free, and is not sent again (redis-py's cluster client sends a command
    again after a timeout, which would add the increment twice)."""
    settings.DISTCACHE = {**settings.DISTCACHE, "REDIS_TIMEOUT": 0.3}
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")  # connected, scripts loaded
    node = buffer_node(on_cluster)
    busy = threading.Thread(target=node.eval, args=(BUSY, 0, 1_500_000))
    busy.start()
    time.sleep(0.2)  # the busy script runs
    with pytest.raises(redis.RedisError):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    busy.join()
    time.sleep(0.2)
    assert on_cluster.hget(buffer_keys(Product).record(product.pk), "i:stock") == b"2"
    breaker.reset()
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 2


def test_strict_mode_waits_for_the_replica_of_the_buffers_slot(on_cluster, settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_WAIT_REPLICAS": 1,
        "WRITE_BEHIND_WAIT_TIMEOUT": 5,
    }
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    # Each master has one replica: two are never reached, and the write is kept.
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_WAIT_REPLICAS": 2,
        "WRITE_BEHIND_WAIT_TIMEOUT": 0.2,
    }
    with pytest.raises(WriteBehindNotReplicated, match="reached 1 of 2 replicas"):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 2


def test_a_primary_evicting_any_key_is_an_error(on_cluster):
    node = buffer_node(on_cluster)
    before = node.config_get("maxmemory-policy")["maxmemory-policy"]
    node.config_set("maxmemory-policy", "allkeys-lru")
    try:
        errors = [m for m in run_checks() if m.id == "distcache.E010"]
    finally:
        node.config_set("maxmemory-policy", before)
    assert len(errors) == 1
    assert "allkeys-lru" in errors[0].msg
    assert "distcache.E010" not in {m.id for m in run_checks()}


def test_write_behind_on_a_cluster_passes_the_checks(on_cluster):
    ids = {m.id for m in run_checks()}
    assert not {"distcache.E032", "distcache.E033", "distcache.E010"} & ids


@pytest.fixture
def migrating_cluster(settings) -> Iterator[tuple[RedisClusterProcesses, RedisCluster]]:
    """A cluster of this test alone (its slots move), the app's cache on it, its
    connections logging the redirections they read."""
    for cluster in started_cluster():
        app_on_cluster(
            settings, cluster, CONNECTION_POOL_KWARGS={"connection_class": LoggingConnection}
        )
        settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
        raw = RedisCluster.from_url(cluster.url)
        yield cluster, raw
        raw.close()


def migrate_slot(raw: RedisCluster, slot: int, target_name: str) -> None:
    """Move ``slot`` to the primary ``target_name`` key by key, as redis-cli does."""
    source = raw.nodes_manager.get_node_from_slot(slot)
    target = raw.get_node(node_name=target_name)
    ids = {name: info["node_id"] for name, info in raw.cluster_nodes().items()}
    source_client, target_client = (
        raw.get_redis_connection(source),
        raw.get_redis_connection(target),
    )
    target_client.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source.name])
    source_client.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target.name])
    time.sleep(0.3)  # writes meet the migrating slot: ASK, TRYAGAIN
    while keys := source_client.execute_command("CLUSTER GETKEYSINSLOT", slot, 10):
        source_client.execute_command(
            "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys
        )
        time.sleep(0.02)
    for node in raw.get_primaries():
        raw.get_redis_connection(node).execute_command(
            "CLUSTER SETSLOT", slot, "NODE", ids[target.name]
        )


def test_moving_the_buffers_slot_under_writes_loses_and_doubles_nothing(migrating_cluster):
    cluster, raw = migrating_cluster
    products = ProductFactory.create_batch(10, stock=0)
    pks = [product.pk for product in products]
    slot = key_slot(buffer_keys(Product).pending.encode())
    source = raw.nodes_manager.get_node_from_slot(slot)
    target = next(node for node in raw.get_primaries() if node.name != source.name)
    expected: Counter[int] = Counter()
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            number = 0
            while not done.is_set():
                number += 1
                pk = pks[number % len(pks)]
                try:
                    django_distcache.write_behind_incr(Product, pk, "stock")
                    expected[pk] += 1
                except Exception as exc:  # every error reaching the caller counts
                    errors.append(exc)
        finally:
            connections.close_all()

    error_replies.clear()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: sum(expected.values()) >= 50, "writes before the move")
        migrate_slot(raw, slot, target.name)
        moved_at = sum(expected.values())
        wait_for(lambda: sum(expected.values()) >= moved_at + 50, "writes after the move")
    finally:
        done.set()
        writer.join(timeout=60)
    assert errors == []
    assert error_replies["MovedError"] + error_replies["AskError"] > 0  # the slot really moved
    assert (
        RedisCluster.from_url(cluster.url).get_node_from_key(buffer_keys(Product).pending).name
        == target.name
    )
    flush_write_behind(Product)
    assert dict(Product.objects.filter(pk__in=pks).values_list("pk", "stock")) == {
        pk: expected[pk] for pk in pks
    }
    assert backlog() == []


def test_a_write_is_one_request_and_a_hit_with_pending_writes_one_round(
    settings, redis_cluster, django_assert_num_queries
):
    app_on_cluster(
        settings, redis_cluster, CONNECTION_POOL_KWARGS={"connection_class": LoggingConnection}
    )
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    product = ProductFactory(stock=0)
    django_distcache.get_object(Product, product.pk)  # cached; connections made
    django_distcache.write_behind_incr(Product, product.pk, "stock")  # the model announced
    (write,) = requests_per_round(
        lambda: django_distcache.write_behind_incr(Product, product.pk, "stock")
    )
    assert list(write.values()) == [1]  # one request, to the buffer's node
    with django_assert_num_queries(0):
        (hit,) = requests_per_round(lambda: django_distcache.get_object(Product, product.pk))
    # The entry's, its generations' and the buffer's nodes, each asked once, in parallel.
    assert set(hit.values()) == {1}
    assert django_distcache.get_object(Product, product.pk).stock == 2
