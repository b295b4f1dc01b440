"""Tests that kill mutants the rest of the suite lets live: write-behind.

Each pins one behaviour that a change to the code kept passing: an update() that
leaves its superseded writes visible, a read during a flush that has not been
acknowledged, the batched statements off PostgreSQL, and the flush the batch size
starts.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import django_distcache
from django_distcache.conf import get_settings
from django_distcache.writebehind import backlog, flush_write_behind, sql
from django_distcache.writebehind.buffer import buffer_keys
from django_distcache.writebehind.flush import apply_batch, claim_batch
from tests.factories import ProductFactory
from tests.shapes.models import Item, Shelf
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def stock_in_db(pk: int) -> int:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


# update() of a write-behind model (querysets.DistcacheQuerySetMixin)


@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic"])
def test_an_update_drops_the_writes_it_superseded_once_committed(raw_redis, atomic):
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    if atomic:
        with transaction.atomic():
            Product.objects.filter(pk=product.pk).update(stock=100)
    else:
        Product.objects.filter(pk=product.pk).update(stock=100)
    # The increment set aside by the update is gone, not laid over the new row.
    assert django_distcache.get_object(Product, product.pk).stock == 100
    assert raw_redis.zcard(buffer_keys(Product).marks) == 0
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 100
    assert backlog() == []


def test_an_update_rolled_back_restores_the_writes_it_set_aside(raw_redis):
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=100)
        transaction.set_rollback(True)
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 15


def test_an_update_by_expression_keeps_the_deferred_writes():
    from django.db.models import F

    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    Product.objects.filter(pk=product.pk).update(stock=F("stock") + 1)
    assert django_distcache.get_object(Product, product.pk).stock == 16
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 16


def test_an_update_of_other_columns_keeps_the_deferred_writes():
    product = ProductFactory(stock=10, name="old")
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    Product.objects.filter(pk=product.pk).update(name="new")
    read = django_distcache.get_object(Product, product.pk)
    assert (read.stock, read.name) == (15, "new")
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 15


# Reads while a batch is held by a flush (overlay.py)


def test_a_read_while_a_batch_is_claimed_sees_its_writes_then_newer_ones():
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)  # cached: the database's row
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    claimed = claim_batch(Product)
    assert claimed is not None
    assert claimed[1] == [str(product.pk)]
    assert django_distcache.get_object(Product, product.pk).stock == 15
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    assert django_distcache.get_object(Product, product.pk).stock == 17


def test_a_read_after_a_batch_committed_but_before_its_acknowledgement_counts_it_once():
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)  # cached: stock 10
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    batch_id, pks = claim_batch(Product)  # type: ignore[misc]
    # The flush commits, then dies before it acknowledges the batch in Redis.
    apply_batch(Product, "default", buffer_keys(Product), batch_id, pks)
    assert stock_in_db(product.pk) == 15
    # The cached row (10) is read again: the database has the batch's +5.
    assert django_distcache.get_object(Product, product.pk).stock == 15
    # A row loaded after the commit is not given the batch's +5 a second time.
    django_distcache.invalidate_objects(Product, [product.pk])
    assert django_distcache.get_object(Product, product.pk).stock == 15
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=1)
    assert django_distcache.get_object(Product, product.pk).stock == 16


def test_the_transaction_that_made_a_direct_save_does_not_see_the_writes_it_set_aside():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        product.stock = 1
        product.save()
        assert django_distcache.get_object(Product, product.pk).stock == 1
    assert django_distcache.get_object(Product, product.pk).stock == 1


# The batched statements (sql.py)


def test_the_generic_statements_set_and_add_as_postgresql_does():
    """Off PostgreSQL, rows are written with bulk_update; here it runs on PostgreSQL."""
    first, second = ProductFactory(stock=10, name="a"), ProductFactory(stock=20, name="b")
    columns = (("stock", "add"), ("name", "set"))
    sql._update_generic(Product, "default", columns, [(first.pk, 5, "x"), (second.pk, -3, "y")])
    rows = dict(Product.objects.values_list("pk", "stock"))
    names = dict(Product.objects.values_list("pk", "name"))
    assert (rows[first.pk], rows[second.pk]) == (15, 17)
    assert (names[first.pk], names[second.pk]) == ("x", "y")


def test_the_generic_statements_count_a_null_column_as_zero():
    """NULL + n = n off PostgreSQL too (a nullable integer column: a foreign key's)."""
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", shelf=None)
    sql._update_generic(Item, "default", (("shelf_id", "add"),), [(item.pk, shelf.pk)])
    assert Item.objects.values_list("shelf_id", flat=True).get(pk=item.pk) == shelf.pk


def test_postgresql_writes_a_thousand_rows_per_statement():
    products = Product.objects.bulk_create(Product(name=f"p{i}", stock=i) for i in range(1001))
    rows = [(p.pk, 1) for p in products]
    with CaptureQueriesContext(connection) as queries:
        sql.update_rows(Product, "default", (("stock", "add"),), rows)
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2
    assert all("FROM (VALUES" in statement for statement in updates)
    stocks = dict(Product.objects.values_list("pk", "stock"))
    assert all(stocks[p.pk] == int(p.name[1:]) + 1 for p in products)


# The flush that reaching the batch size starts (write.py, wb_write.lua)


@pytest.fixture
def flush_queue(celery_broker):
    """The broker's write-behind queue (a Redis list), empty at the start."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield lambda: broker.llen(get_settings().WRITE_BEHIND_QUEUE)
    broker.close()


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WRITE_BEHIND_BATCH_SIZE": 3})
def test_the_row_that_fills_a_batch_queues_one_flush(flush_queue):
    products = ProductFactory.create_batch(5, stock=0)
    for product in products[:2]:
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    django_distcache.write_behind_incr(Product, products[0].pk, "stock")  # not a new row
    assert flush_queue() == 0
    django_distcache.write_behind_incr(Product, products[2].pk, "stock")
    assert flush_queue() == 1
    # Rows past the batch size within the trigger's second queue no second flush.
    for product in products[3:]:
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    assert flush_queue() == 1


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WRITE_BEHIND_BATCH_SIZE": 1})
def test_a_flush_asked_for_inside_a_transaction_is_queued_when_it_commits(flush_queue):
    product = ProductFactory(stock=0)
    with transaction.atomic():
        django_distcache.write_behind_incr(Product, product.pk, "stock")
        assert flush_queue() == 0
    assert flush_queue() == 1


# What a flush reports (flush.py)


def test_a_flush_counts_its_batches_rows_and_writes():
    first, second = ProductFactory(stock=0), ProductFactory(stock=0)
    for product in (first, second, first):
        django_distcache.write_behind_incr(Product, product.pk, "stock")
    counts = flush_write_behind(Product)
    assert (counts["batches"], counts["rows"], counts["writes"], counts["coalesced"]) == (
        1,
        2,
        3,
        1,
    )


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WRITE_BEHIND_LEASE_TIMEOUT": 0.2})
def test_a_batch_recovered_by_another_flush_before_it_began_is_not_nothing_due():
    """flush_batch returns None only when nothing is due: a batch lost to another
    flush's recovery counts nothing, and the flush goes on with the next batch."""
    import threading

    import psycopg
    from django.db import connections

    from django_distcache.writebehind.flush import flush_batch
    from django_distcache.writebehind.recovery import recover_stale_batches

    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    params = connection.settings_dict
    results = []
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=params["NAME"]
    ) as blocker:
        # The flush claims the batch, then waits for its row locks behind this lock.
        blocker.execute("LOCK TABLE testapp_product IN EXCLUSIVE MODE")

        def flush() -> None:
            try:
                results.append(flush_batch(Product, "default"))
            finally:
                connections.close_all()

        flushing = threading.Thread(target=flush)
        flushing.start()
        # Once the lease ran out, this process recovers the batch (never begun: put back).
        deadline = time.monotonic() + 30
        while not recover_stale_batches(Product, "default"):
            assert time.monotonic() < deadline, "the claimed batch was never recovered"
            time.sleep(0.05)
        blocker.rollback()
    flushing.join(timeout=30)
    assert results == [Counter()]
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 3


def test_get_objects_lays_each_row_s_own_deferred_writes_over_it():
    products = [ProductFactory(stock=0) for _ in range(3)]
    django_distcache.get_objects(Product, [p.pk for p in products])  # cached: 0 each
    for by, product in enumerate(products, start=1):
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=by)
    found = django_distcache.get_objects(Product, [p.pk for p in products])
    assert [found[p.pk].stock for p in products] == [1, 2, 3]


def test_flushing_a_model_without_write_behind_is_refused_by_name():
    from django_distcache.writebehind.buffer import NotWriteBehind
    from tests.testapp.models import Category

    with pytest.raises(NotWriteBehind, match=r"testapp\.Category does not allow write-behind"):
        flush_write_behind(Category)


def test_a_claimed_batch_whose_writes_a_save_set_aside_counts_them_superseded():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    batch_id, pks = claim_batch(Product)  # type: ignore[misc]
    product.stock = 1
    product.save()  # the batch has not begun: its +5 is set aside, then dropped
    outcome = apply_batch(Product, "default", buffer_keys(Product), batch_id, pks)
    assert (outcome.counts["superseded"], outcome.counts["rows"]) == (1, 0)
    assert stock_in_db(product.pk) == 1


def test_a_row_another_transaction_holds_is_retried_a_second_later(raw_redis):
    import psycopg

    from django_distcache.writebehind.buffer import now_ms
    from django_distcache.writebehind.flush import LOCKED_RETRY_MS

    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=params["NAME"]
    ) as holder:
        holder.execute("SELECT 1 FROM testapp_product WHERE id = %s FOR UPDATE", [product.pk])
        before = now_ms()
        assert flush_write_behind(Product)["retried"] == 1
        due = raw_redis.zscore(buffer_keys(Product).pending, str(product.pk))
        assert due >= before + LOCKED_RETRY_MS
        assert flush_write_behind(Product)["retried"] == 0  # not due yet: left alone
        holder.rollback()
    assert stock_in_db(product.pk) == 0
