"""Write-behind with its buffer on a Redis Cluster: where the buffer lives, a call sent once,
strict mode's WAIT on the slot's node, and the eviction check on every primary."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.core.checks import run_checks
from redis.cluster import RedisCluster
from redis.crc import key_slot

import django_distcache
from django_distcache.redis import breaker
from django_distcache.writebehind import WriteBehindNotReplicated, backlog, flush_write_behind
from django_distcache.writebehind.buffer import buffer_keys
from tests.cluster import RedisClusterProcesses, app_on_cluster
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
