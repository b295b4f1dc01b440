"""The app's cluster client under more threads than a node's pool holds connections."""

from __future__ import annotations

import threading

import pytest

import django_distcache
from django_distcache.redis import breaker
from django_distcache.redis.client import get_redis
from tests.cluster import RedisClusterProcesses, app_on_cluster
from tests.factories import CategoryFactory
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_read_waits_for_a_free_connection_rather_than_opening_the_breaker(
    settings, redis_cluster: RedisClusterProcesses, django_assert_num_queries
):
    app_on_cluster(settings, redis_cluster)
    category = CategoryFactory()
    django_distcache.get_object(Category, category.pk)  # stored; the slot table is read
    client = get_redis()
    entry_node = client.get_node_from_key(get_config_base(category.pk))
    pool = client.get_redis_connection(entry_node).connection_pool
    held = [pool.get_connection() for _ in range(pool.max_connections)]
    threading.Timer(0.3, lambda: [pool.release(c) for c in held]).start()
    with django_assert_num_queries(0):  # a hit, once a connection is free
        assert django_distcache.get_object(Category, category.pk).name == category.name
    assert breaker.for_alias(settings.CLUSTER_ALIAS).trips == 0


def get_config_base(pk: int) -> str:
    from django_distcache.registry import get_config

    return get_config(Category).object_base(str(pk))


def test_threads_asking_at_once_share_one_cluster_client(
    settings, redis_cluster: RedisClusterProcesses
):
    """A cluster's client connects when made (the slot table): threads of a cold process
    (an ASGI server's first requests) must not each make their own."""
    app_on_cluster(settings, redis_cluster)
    start = threading.Barrier(20)
    clients = []

    def ask() -> None:
        start.wait()
        clients.append(get_redis())

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 20
    assert len({id(client) for client in clients}) == 1
