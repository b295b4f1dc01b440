"""Sharding over plain Redis servers: a consistent-hash ring, measured on real servers."""

from __future__ import annotations

import pytest
import redis

from django_distcache.redis.ring import HashRing, hash_tag
from django_distcache.redis.sharded import ShardedRedis
from tests import roundtrips
from tests.cluster import LoggingConnection, one_request_per_node_first

KEYS = [f"dctest:v1:obj:app.model:{i}" for i in range(10_000)]


def sharded_over(servers, **options) -> ShardedRedis:
    return ShardedRedis.from_urls([server.url for server in servers], **options)


def store_all(shards: ShardedRedis, keys: list[str]) -> None:
    for name, group in shards.keys_by_node(keys).items():
        shards.clients[name].mset({key: key for key in group})


def test_the_ring_spreads_keys_evenly():
    ring = HashRing(["a", "b", "c", "d"])
    shares = {node: len(keys) / len(KEYS) for node, keys in ring.keys_by_node(KEYS).items()}
    assert sorted(shares) == ["a", "b", "c", "d"]
    assert all(0.15 < share < 0.35 for share in shares.values()), shares


def test_every_process_routes_alike():
    assert HashRing(["a", "b", "c"]).keys_by_node(KEYS) == HashRing(["a", "b", "c"]).keys_by_node(
        KEYS
    )


def test_hash_tags_keep_keys_together():
    assert hash_tag("x:{user:1}:entry") == "user:1"
    assert hash_tag("no-tag") == "no-tag"
    assert hash_tag("empty{}tag") == "empty{}tag"
    ring = HashRing(["a", "b", "c"])
    nodes = {
        ring.node_for(f"{{user:{i}}}:entry") == ring.node_for(f"{{user:{i}}}:lease")
        for i in range(200)
    }
    assert nodes == {True}


def test_adding_a_node_moves_about_a_quarter_of_the_keys(redis_process):
    servers = [redis_process() for _ in range(4)]
    shards = sharded_over(servers[:3])
    store_all(shards, KEYS)
    shards.add_node(servers[3].url, redis.Redis.from_url(servers[3].url))
    values = shards.mget(KEYS)
    missed = [key for key, value in zip(KEYS, values, strict=True) if value is None]
    # Every key the servers can no longer find is one the new server now owns, and the
    # others all still hit: only the new node's share moved, nothing between old nodes.
    assert set(missed) == set(shards.keys_by_node(KEYS)[servers[3].url])
    assert all(value == key.encode() for key, value in zip(KEYS, values, strict=True) if value)
    assert 0.18 < len(missed) / len(KEYS) < 0.32, len(missed) / len(KEYS)


def test_removing_a_node_moves_only_its_keys(redis_process):
    servers = [redis_process() for _ in range(3)]
    shards = sharded_over(servers)
    store_all(shards, KEYS)
    leaving = set(shards.keys_by_node(KEYS)[servers[0].url])
    shards.remove_node(servers[0].url)
    values = shards.mget(KEYS)
    assert {key for key, value in zip(KEYS, values, strict=True) if value is None} == leaving


def test_multi_key_reads_are_one_round_trip_per_node(redis_process):
    servers = [redis_process() for _ in range(3)]
    shards = sharded_over(servers, connection_class=roundtrips.CountingConnection)
    keys = KEYS[:100]
    store_all(shards, keys)
    shards.mget(keys)  # each node's connection says hello once, when opened
    before = roundtrips.sent
    assert shards.mget(keys) == [key.encode() for key in keys]
    assert roundtrips.sent - before == 3
    before = roundtrips.sent
    assert shards.delete(*keys) == 100
    assert roundtrips.sent - before == 3
    assert shards.mget(keys) == [None] * 100


def test_multi_key_reads_reach_every_node_before_any_reply_is_read(redis_process):
    servers = [redis_process() for _ in range(3)]
    shards = sharded_over(servers, connection_class=LoggingConnection)
    keys = KEYS[:100]
    store_all(shards, keys)
    shards.mget(keys)  # connections opened
    assert one_request_per_node_first(lambda: shards.mget(keys), 3)
    assert one_request_per_node_first(lambda: shards.delete(*keys), 3)


def test_single_key_commands_go_to_the_owner(redis_process):
    servers = [redis_process() for _ in range(3)]
    shards = sharded_over(servers)
    for key in KEYS[:30]:
        shards.client_for(key).set(key, 1)
    for server in servers:
        stored = {k.decode() for k in redis.Redis.from_url(server.url).keys("*")}
        assert stored == set(shards.keys_by_node(KEYS[:30]).get(server.url, []))


def test_a_node_down_fails_the_read_and_leaves_no_reply_behind(redis_process):
    servers = [redis_process() for _ in range(3)]
    shards = sharded_over(servers)
    keys = KEYS[:300]
    store_all(shards, keys)
    servers[1].stop()
    with pytest.raises(redis.ConnectionError):
        shards.mget(keys)
    servers[1].start()  # empty: it kept nothing
    values = dict(zip(keys, shards.mget(keys), strict=True))
    lost = set(shards.keys_by_node(keys)[servers[1].url])
    assert {key for key, value in values.items() if value is None} == lost
    assert all(values[key] == key.encode() for key in keys if key not in lost)
