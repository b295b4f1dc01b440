"""Good citizenship on a shared Redis (an ACL user limited to the prefix) and Redis going away."""

import logging
import time

import pytest
import redis

import django_distcache
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def use_redis(settings, url, prefix="dctest"):
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "KEY_PREFIX": prefix}


def test_everything_works_for_an_acl_user_limited_to_the_prefix(settings, redis_process):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    admin.acl_setuser(
        "app",
        enabled=True,
        passwords=["+app-secret"],
        keys=["dcacl:*"],
        commands=["+@all", "-@dangerous", "-keys", "-flushdb", "-flushall"],
    )
    use_redis(settings, f"redis://app:app-secret@127.0.0.1:{server.port}/0", prefix="dcacl")
    as_app = redis.Redis(port=server.port, username="app", password="app-secret")
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_app.set("elsewhere", 1)  # the ACL really limits the user
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_app.flushdb()

    product = ProductFactory(name="one")
    assert django_distcache.get_object(Product, product.pk).name == "one"
    product.name = "two"
    product.save()
    assert django_distcache.get_object(Product, product.pk).name == "two"
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].name == "two"
    assert django_distcache.get_or_set("k", lambda: 1, tags=["t"], depends_on=[Product]) == 1
    django_distcache.invalidate("t")
    django_distcache.invalidate(Product)
    assert django_distcache.get_object(Product, product.pk).name == "two"
    assert all(key.startswith(b"dcacl:") for key in admin.scan_iter())
    executed = {
        name.removeprefix("cmdstat_")
        for name, stat in admin.info("commandstats").items()
        if stat["calls"] > 0
    }
    assert "evalsha" in executed
    assert executed.isdisjoint({"keys", "flushdb", "flushall"})


def test_reads_fall_back_to_the_database_when_redis_is_down(
    settings, redis_process, django_assert_num_queries, caplog
):
    server = redis_process()
    use_redis(settings, server.url)
    product = ProductFactory(name="served")
    django_distcache.get_object(Product, product.pk)
    server.stop()
    with caplog.at_level(logging.WARNING, logger="django_distcache"), django_assert_num_queries(1):
        assert django_distcache.get_object(Product, product.pk).name == "served"
    assert "Redis (default) unavailable (ConnectionError)" in caplog.text
    assert django_distcache.get_or_set("k", lambda: "loaded") == "loaded"
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].name == "served"
    # writes still succeed; the invalidation waits in the outbox (logged, not raised)
    product.name = "changed"
    product.save()
    assert "waits in the outbox" in caplog.text


def test_breaker_skips_redis_after_a_failure_then_tries_again(settings, redis_process):
    server = redis_process()
    use_redis(settings, server.url)
    settings.DISTCACHE = {**settings.DISTCACHE, "RETRY_REDIS_AFTER": 0.5}
    product = ProductFactory(name="served")
    server.stop()
    assert django_distcache.get_object(Product, product.pk).name == "served"
    server.start()
    # within RETRY_REDIS_AFTER: no attempt at Redis, the database answers
    assert django_distcache.get_object(Product, product.pk).name == "served"
    assert redis.Redis(port=server.port).dbsize() == 0
    time.sleep(0.6)
    django_distcache.get_object(Product, product.pk)
    assert redis.Redis(port=server.port).dbsize() > 0
