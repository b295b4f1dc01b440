"""Write-behind in one process: read-your-writes, coalescing, ordering, dead letters."""

from __future__ import annotations

import time

import pytest
import redis
from django.test import override_settings

import django_distcache
from django_distcache.writebehind import backlog, dead_letters, flush_write_behind
from django_distcache.writebehind.buffer import buffer_keys
from tests.factories import DocumentFactory, ProductFactory, TagFactory
from tests.testapp.models import Category, Document, Product, Tag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def stock_in_db(product: Product) -> int:
    return Product.objects.values_list("stock", flat=True).get(pk=product.pk)


def test_write_is_read_at_once_and_reaches_the_database_on_flush():
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)
    product.stock = 3
    django_distcache.write_behind(product, fields=["stock"])
    assert django_distcache.get_object(Product, product.pk).stock == 3
    assert stock_in_db(product) == 10
    counts = flush_write_behind(Product)
    assert counts["rows"] == 1
    assert stock_in_db(product) == 3
    assert django_distcache.get_object(Product, product.pk).stock == 3
    assert backlog() == []


def test_increments_coalesce_into_one_row_write():
    product = ProductFactory(stock=10)
    for _ in range(5):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    assert django_distcache.get_object(Product, product.pk).stock == 15
    [entry] = backlog()
    assert entry["model"] == "testapp.product"
    assert entry["pending"] == 1
    assert entry["oldest_age"] >= 0
    counts = flush_write_behind("testapp.Product")
    assert (counts["rows"], counts["writes"], counts["coalesced"]) == (1, 5, 4)
    assert stock_in_db(product) == 15


def test_increments_add_to_other_database_writes():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    Product.objects.filter(pk=product.pk).update(stock=100)
    flush_write_behind(Product)
    # update() replaced the column: the increment made before it is void.
    assert stock_in_db(product) == 100
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    flush_write_behind(Product)
    assert stock_in_db(product) == 103


def test_value_then_increment_then_value_keeps_order():
    product = ProductFactory(stock=10, name="old")
    product.stock = 5
    django_distcache.write_behind(product, fields=["stock"])
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    assert django_distcache.get_object(Product, product.pk).stock == 7
    product.name = "new"
    django_distcache.write_behind(product, fields=["name"])
    flush_write_behind(Product)
    product.refresh_from_db()
    assert (product.stock, product.name) == (7, "new")


def test_direct_save_after_deferred_increments_wins():
    product = ProductFactory(stock=10)
    for _ in range(5):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    assert django_distcache.get_object(Product, product.pk).stock == 15
    product.stock = 0
    product.save()
    assert django_distcache.get_object(Product, product.pk).stock == 0
    flush_write_behind(Product)
    assert stock_in_db(product) == 0
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    assert django_distcache.get_object(Product, product.pk).stock == 1
    flush_write_behind(Product)
    assert stock_in_db(product) == 1


def test_save_of_other_fields_keeps_deferred_writes():
    product = ProductFactory(stock=10, name="a")
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    product.name = "b"
    product.save(update_fields=["name"])
    assert django_distcache.get_object(Product, product.pk).stock == 12
    flush_write_behind(Product)
    assert stock_in_db(product) == 12


def test_writes_to_a_deleted_row_go_to_the_dead_letter_list():
    product = ProductFactory(stock=10)
    keep = ProductFactory(stock=1)
    django_distcache.write_behind_incr(Product, keep.pk, "stock")
    deleted_pk = product.pk
    product.delete()
    # Made after the delete (writes made before it are superseded by it).
    django_distcache.write_behind_incr(Product, deleted_pk, "stock")
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, deleted_pk)
    counts = flush_write_behind(Product)
    assert counts["dead_lettered"] == 1
    assert stock_in_db(keep) == 2
    [letter] = dead_letters(Product)
    assert letter["pk"] == str(deleted_pk)
    assert letter["increments"] == {"stock": 1}
    assert "no longer exists" in letter["error"]
    assert backlog()[0]["dead_letters"] == 1


def test_constraint_violation_is_retried_then_dead_lettered_and_the_rest_applied(settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_MAX_ATTEMPTS": 2,
        "WRITE_BEHIND_RETRY_BACKOFF": 0,
    }
    TagFactory(name="taken")
    bad, good = TagFactory(name="x"), TagFactory(name="y")
    bad.name, good.name = "taken", "fine"
    django_distcache.write_behind(bad, fields=["name"])
    django_distcache.write_behind(good, fields=["name"])
    first = flush_write_behind(Tag)
    assert (first["rows"], first["retried"], first["dead_lettered"]) == (1, 1, 0)
    assert Tag.objects.get(pk=good.pk).name == "fine"
    second = flush_write_behind(Tag)
    assert second["dead_lettered"] == 1
    [letter] = dead_letters(Tag)
    assert letter["values"] == {"name": "taken"}
    assert letter["attempts"] == 2
    assert "IntegrityError" in letter["error"]
    assert Tag.objects.get(pk=bad.pk).name == "x"


def test_uuid_primary_keys_round_trip():
    document = DocumentFactory(title="a")
    document.title = "b"
    django_distcache.write_behind(document, fields=["title"])
    assert django_distcache.get_objects(Document, [document.pk])[document.pk].title == "b"
    flush_write_behind(Document)
    assert Document.objects.get(pk=document.pk).title == "b"


def test_model_not_registered_for_write_behind_is_refused():
    category = Category.objects.create(name="c")
    with pytest.raises(django_distcache.writebehind.NotWriteBehind, match="write_behind=True"):
        django_distcache.write_behind(category, fields=["name"])


def test_flush_of_nothing_changes_nothing():
    assert flush_write_behind()["rows"] == 0


def test_write_through_saves_and_refreshes_the_entry(django_assert_num_queries):
    product = ProductFactory(stock=10)
    product.stock = 4
    django_distcache.write_through(product)
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, product.pk).stock == 4


def test_full_buffer_raises_a_clear_error(settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_MAX_PENDING": 2,
        "WRITE_BEHIND_OVERFLOW": "raise",
    }
    first, second, third = ProductFactory.create_batch(3, stock=0)
    django_distcache.write_behind_incr(Product, first.pk, "stock")
    django_distcache.write_behind_incr(Product, second.pk, "stock")
    django_distcache.write_behind_incr(Product, first.pk, "stock")  # a pending row: fine
    with pytest.raises(django_distcache.WriteBehindFull, match="WRITE_BEHIND_MAX_PENDING"):
        django_distcache.write_behind_incr(Product, third.pk, "stock")
    assert stock_in_db(third) == 0


def test_full_buffer_writes_through_by_default(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_MAX_PENDING": 1}
    first, second = ProductFactory.create_batch(2, stock=0)
    django_distcache.write_behind_incr(Product, first.pk, "stock")
    django_distcache.write_behind_incr(Product, second.pk, "stock", by=4)
    assert stock_in_db(second) == 4
    assert stock_in_db(first) == 0


def _buffer_settings(url: str) -> dict:
    from django.conf import settings

    caches = {
        **settings.CACHES,
        "buffer": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        },
    }
    return {
        "CACHES": caches,
        "DISTCACHE": {"KEY_PREFIX": "dctest", "WRITE_BEHIND_CACHE_ALIAS": "buffer"},
    }


def test_out_of_memory_on_the_buffer_raises_to_the_caller(redis_process, one_redis):
    server = redis_process("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    product = ProductFactory(stock=0)
    with override_settings(**_buffer_settings(server.url)):
        filler = redis.Redis.from_url(server.url)
        for index in range(10_000):
            try:
                filler.set(f"fill:{index}", b"x" * 1024)
            except redis.exceptions.OutOfMemoryError:
                break
        else:
            pytest.fail("the private Redis never reached its maxmemory")
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            django_distcache.write_behind_incr(Product, product.pk, "stock")


def test_read_only_buffer_raises_to_the_caller(redis_process, one_redis):
    primary = redis_process()
    replica = redis_process("--replicaof", "127.0.0.1", str(primary.port))
    product = ProductFactory(stock=0)
    with (
        override_settings(**_buffer_settings(replica.url)),
        pytest.raises(redis.exceptions.ReadOnlyError),
    ):
        django_distcache.write_behind_incr(Product, product.pk, "stock")


def test_buffer_on_its_own_redis_keeps_read_your_writes(redis_process, one_redis):
    server = redis_process()
    product = ProductFactory(stock=1)
    with override_settings(**_buffer_settings(server.url)):
        django_distcache.get_object(Product, product.pk)
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
        assert django_distcache.get_object(Product, product.pk).stock == 3
        assert redis.Redis.from_url(server.url).exists(buffer_keys(Product).record(product.pk))
        flush_write_behind(Product)
        assert stock_in_db(product) == 3


def test_save_inside_a_transaction_replaces_deferred_writes_when_it_commits():
    from django.db import transaction

    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        product.stock = 1
        product.save()
        # The transaction reads its own write, not the deferred one.
        assert django_distcache.get_object(Product, product.pk).stock == 1
    assert django_distcache.get_object(Product, product.pk).stock == 1
    flush_write_behind(Product)
    assert stock_in_db(product) == 1


def test_strict_mode_waits_for_a_replica(redis_process, one_redis):
    primary = redis_process()
    replica = redis_process("--replicaof", "127.0.0.1", str(primary.port))
    watcher = redis.Redis.from_url(primary.url)
    for _ in range(200):  # until the replica is in sync
        if watcher.info("replication").get("slave0", {}).get("state") == "online":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the replica did not come online")
    product = ProductFactory(stock=0)
    strict = _buffer_settings(primary.url)
    strict["DISTCACHE"] |= {"WRITE_BEHIND_WAIT_REPLICAS": 1, "WRITE_BEHIND_WAIT_TIMEOUT": 5}
    with override_settings(**strict):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
        key = f"dctest:wb:{{testapp.product}}:r:{product.pk}"
        assert redis.Redis.from_url(replica.url).hget(key, "i:stock") == b"1"
        replica.stop()
        strict["DISTCACHE"]["WRITE_BEHIND_WAIT_TIMEOUT"] = 0.2
        with (
            override_settings(**strict),
            pytest.raises(
                django_distcache.writebehind.WriteBehindNotReplicated,
                match="reached 0 of 1 replicas",
            ),
        ):
            django_distcache.write_behind_incr(Product, product.pk, "stock")
        flush_write_behind(Product)
    assert stock_in_db(product) == 2


def test_flush_task_is_configured_for_at_least_once_delivery(one_redis):
    from django_distcache import tasks

    for task in (tasks.flush_write_behind, tasks.warm_cache):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True


def _expire_leases(raw_redis) -> None:
    raw_redis.zadd(
        "dctest:wb:{testapp.product}:batches",
        {b: 0 for b in raw_redis.zrange("dctest:wb:{testapp.product}:batches", 0, -1)},
    )


def test_batch_committed_but_never_acknowledged_is_not_applied_twice(raw_redis):
    """A flush that died between its commit and its acknowledgement."""
    from django.db import router

    from django_distcache.writebehind.buffer import buffer_keys
    from django_distcache.writebehind.flush import apply_batch, claim_batch

    product = ProductFactory(stock=10)
    for _ in range(3):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    batch_id, pks = claim_batch(Product)
    apply_batch(Product, router.db_for_write(Product), buffer_keys(Product), batch_id, pks)
    assert stock_in_db(product) == 13
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=100)  # a newer write
    assert django_distcache.get_object(Product, product.pk).stock == 113
    assert flush_write_behind(Product)["recovered"] == 0  # the lease still holds
    _expire_leases(raw_redis)
    counts = flush_write_behind(Product)
    assert counts["recovered"] == 1
    assert stock_in_db(product) == 113
    assert backlog() == []


def test_batch_whose_transaction_rolled_back_is_applied_once(raw_redis):
    """A flush that died inside its transaction."""
    from django.db import router, transaction

    from django_distcache.writebehind.buffer import buffer_keys
    from django_distcache.writebehind.flush import apply_batch, claim_batch

    product = ProductFactory(stock=10, name="a")
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    product.name = "old"
    django_distcache.write_behind(product, fields=["name"])
    batch_id, pks = claim_batch(Product)

    def die_inside_the_transaction() -> None:
        with transaction.atomic():
            apply_batch(Product, router.db_for_write(Product), buffer_keys(Product), batch_id, pks)
            raise RuntimeError("the worker died here")

    with pytest.raises(RuntimeError):
        die_inside_the_transaction()
    assert django_distcache.get_object(Product, product.pk).stock == 12
    assert stock_in_db(product) == 10
    product.name = "new"
    django_distcache.write_behind(product, fields=["name"])  # newer than the lost batch
    _expire_leases(raw_redis)
    counts = flush_write_behind(Product)
    assert counts["recovered"] == 1
    product.refresh_from_db()
    assert (product.stock, product.name) == (12, "new")


def test_flush_waiting_on_a_direct_save_does_not_write_over_it():
    """The save commits while the flush waits for the row lock, and the flush wakes up
    before the save's commit callback has dropped the deferred write it replaced."""
    import threading
    import time

    from django.db import connection, transaction

    product = ProductFactory(stock=10)
    product.stock = 5
    django_distcache.write_behind(product, fields=["stock"])
    results = {}

    def flush_in_another_thread() -> None:
        try:
            results["counts"] = flush_write_behind(Product)
        finally:
            connection.close()

    flusher = threading.Thread(target=flush_in_another_thread)
    with transaction.atomic():
        # Runs first among the commit callbacks: the flush gets the row lock and reads
        # the buffer before the save's own callback runs.
        transaction.on_commit(lambda: time.sleep(0.5))
        Product.objects.get(pk=product.pk)  # a read in the transaction
        direct = Product.objects.select_for_update().get(pk=product.pk)
        direct.stock = 0
        direct.save()
        flusher.start()
        time.sleep(0.3)  # the flush claimed the row and waits for the lock
    flusher.join(timeout=30)
    assert results["counts"]["rows"] == 0
    assert stock_in_db(product) == 0
    flush_write_behind(Product)
    assert stock_in_db(product) == 0
    assert django_distcache.get_object(Product, product.pk).stock == 0
    assert backlog() == []
