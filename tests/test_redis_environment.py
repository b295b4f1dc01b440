"""Good citizenship on a shared Redis (an ACL user limited to the prefix) and Redis going away."""

import logging
import time

import pytest
import redis

import django_distcache
from django_distcache.redis import breaker
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


def test_a_redis_that_refuses_scripts_still_serves_reads_from_the_database(settings, redis_process):
    # Plain reads (MGET) pass; taking a lease (EVALSHA) is refused, as on some managed Redis.
    server = redis_process()
    redis.Redis(port=server.port).acl_setuser(
        "app",
        enabled=True,
        passwords=["+app-secret"],
        keys=["*"],
        commands=["+@all", "-@scripting"],
    )
    use_redis(settings, f"redis://app:app-secret@127.0.0.1:{server.port}/0")
    products = [ProductFactory(name="one"), ProductFactory(name="two")]
    pks = [product.pk for product in products]
    found = django_distcache.get_objects(Product, pks)
    assert {pk: p.name for pk, p in found.items()} == {pks[0]: "one", pks[1]: "two"}
    assert django_distcache.get_object(Product, pks[0]).name == "one"
    assert django_distcache.get_or_set("k", lambda: "loaded") == "loaded"


def test_reads_fall_back_to_the_database_when_redis_is_down(
    settings, redis_process, django_assert_num_queries, caplog
):
    server = redis_process()
    use_redis(settings, server.url)
    product = ProductFactory(name="served")
    django_distcache.get_object(Product, product.pk)
    server.stop()
    with caplog.at_level(logging.WARNING, logger="django_distcache"):
        with django_assert_num_queries(1):
            assert django_distcache.get_object(Product, product.pk).name == "served"
        assert django_distcache.get_or_set("k", lambda: "loaded") == "loaded"
        assert django_distcache.get_objects(Product, [product.pk])[product.pk].name == "served"
        assert django_distcache.get_object(Product, product.pk).name == "served"
    # one warning for the failure, not one per read
    assert _unavailable_warnings(caplog) == [
        "django_distcache: Redis (default) unavailable (ConnectionError); using the database "
        "and the outbox until a probe finds it back"
    ]
    # writes still succeed; the invalidation waits in the outbox (logged, not raised)
    product.name = "changed"
    product.save()
    assert "waits in the outbox" in caplog.text


def _unavailable_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "unavailable (" in record.getMessage()
    ]


def _entries(server) -> list[bytes]:
    return list(redis.Redis(port=server.port).scan_iter(match="dctest:v1:obj:*"))


def test_breaker_skips_redis_after_a_failure_then_tries_again(settings, redis_process):
    server = redis_process()
    use_redis(settings, server.url)
    # Long enough to cover the restart below on a slow machine.
    settings.DISTCACHE = {**settings.DISTCACHE, "RETRY_REDIS_AFTER": 5.0}
    product = ProductFactory(name="served")
    server.stop()
    tripped = time.monotonic()
    assert django_distcache.get_object(Product, product.pk).name == "served"
    server.start()
    # within RETRY_REDIS_AFTER: no attempt at Redis, the database answers
    assert django_distcache.get_object(Product, product.pk).name == "served"
    assert time.monotonic() - tripped < 5.0, "the restart outlasted the window: inconclusive"
    assert _entries(server) == []
    # then the first read after the window goes to Redis again and caches the row
    deadline = time.monotonic() + 30
    while not _entries(server) and time.monotonic() < deadline:
        django_distcache.get_object(Product, product.pk)
        time.sleep(0.05)
    assert len(_entries(server)) == 1
    assert time.monotonic() - tripped >= 5.0


def test_a_failure_is_logged_once_per_opening_of_the_breaker(settings, caplog):
    settings.DISTCACHE = {**settings.DISTCACHE, "RETRY_REDIS_AFTER": 0.2}
    with caplog.at_level(logging.WARNING, logger="django_distcache"):
        breaker.trip(redis.ConnectionError("refused"))
        # a read that was already under way fails too, and a read that skipped Redis
        breaker.trip(redis.TimeoutError("timed out"))
        breaker.trip(breaker.RedisUnavailable("open"))
        assert len(_unavailable_warnings(caplog)) == 1
        with pytest.raises(breaker.RedisUnavailable):
            breaker.check()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                breaker.check()
                break
            except breaker.RedisUnavailable:
                time.sleep(0.02)
        breaker.trip(redis.ConnectionError("refused"))  # a new failure after the window
    opened = (
        "django_distcache: Redis (default) unavailable (ConnectionError); using the database "
        "and the outbox until a probe finds it back"
    )
    assert _unavailable_warnings(caplog) == [opened, opened]
