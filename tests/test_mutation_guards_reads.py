"""Tests that kill mutants the rest of the suite lets live: the read path.

Each pins one behaviour that a change to the code kept passing: what the statistics
count for a read that did not wait, and what a DistcacheManager's update() costs for a
model without write-behind.
"""

from __future__ import annotations

import pytest

import django_distcache
from django_distcache import keys, stats
from django_distcache.querysets import DistcacheQuerySet
from tests.factories import CategoryFactory
from tests.testapp.models import Category, Uncached

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counted(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": True}


def test_a_read_that_loads_itself_counts_a_miss_and_no_wait(counted):
    assert django_distcache.get_or_set("alone", lambda: 1) == 1
    assert django_distcache.get_or_set("alone", lambda: 2) == 1
    counts = {event: n for (ns, event), n in stats.local_counts().items() if ns == "get_or_set"}
    assert counts.get("misses") == 1
    assert counts.get("hits") == 1
    assert "waits" not in counts
    assert "wait_timeouts" not in counts


def test_update_through_the_queryset_of_a_model_without_write_behind_is_one_query(
    django_assert_num_queries,
):
    category = CategoryFactory(name="old")
    with django_assert_num_queries(1):  # no primary keys read to set deferred writes aside
        DistcacheQuerySet(model=Category).filter(pk=category.pk).update(name="new")
    assert django_distcache.get_object(Category, category.pk).name == "new"


def test_update_through_the_queryset_of_an_unregistered_model_works():
    row = Uncached.objects.create(name="a")
    assert DistcacheQuerySet(model=Uncached).filter(pk=row.pk).update(name="b") == 1
    assert Uncached.objects.get(pk=row.pk).name == "b"


def test_a_forked_child_does_not_keep_its_parent_s_leases_alive(settings, raw_redis):
    """The lease keeper forgets the leases held at a fork: the child renews only its own,
    so a lease whose holder stops renewing it still expires."""
    import os
    import signal
    import time

    from django_distcache.reads import leases

    settings.DISTCACHE = {**settings.DISTCACHE, "LEASE_TIMEOUT": 0.6}
    key = "dctest:guard:fork"
    raw_redis.set(keys.lease_key(key), "parent-token|g", px=600)
    with leases.kept_alive([(key, "parent-token")]):
        with leases._keeper._condition:  # forked while the keeper's thread holds no lock
            child = os.fork()
        if child == 0:  # the child: its own keeper, holding a lease of its own
            try:
                leases._keeper.hold([(f"{key}:child", "child-token")])
                time.sleep(60)  # alive, renewing, until the parent kills it
            finally:
                os._exit(0)
    # The parent stopped renewing (as a holder that died would); the child must not.
    try:
        deadline = time.monotonic() + 10  # it expires 0.6 s after the last renewal
        while raw_redis.exists(keys.lease_key(key)):
            assert time.monotonic() < deadline, "the parent's lease was kept alive by its child"
            time.sleep(0.05)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_get_objects_lays_deferred_writes_over_rows_when_the_buffer_has_its_own_redis(
    redis_process, settings
):
    from django_distcache.writebehind import flush_write_behind
    from tests.factories import ProductFactory
    from tests.testapp.models import Product

    server = redis_process()
    settings.CACHES = {
        **settings.CACHES,
        "buffer": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_CACHE_ALIAS": "buffer"}
    product = ProductFactory(stock=1)
    django_distcache.get_objects(Product, [product.pk])  # cached: stock 1
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 3
    flush_write_behind(Product)
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 3
