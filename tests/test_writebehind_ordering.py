"""A direct save, update() or delete supersedes only the deferred writes made before it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction

import django_distcache
from django_distcache.writebehind import backlog, flush_write_behind
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def stock_in_db(pk: int) -> int:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


def increment_elsewhere(pk: int, by: int) -> None:
    """An increment made by another request (thread), outside this transaction."""
    thread = threading.Thread(
        target=django_distcache.write_behind_incr, args=(Product, pk, "stock"), kwargs={"by": by}
    )
    thread.start()
    thread.join(timeout=30)


def save_then_fail(product: Product, stock: int) -> None:
    """Save in an atomic block that then rolls back."""
    with transaction.atomic():
        product.stock = stock
        product.save()
        raise RuntimeError("rolled back")


def test_increments_made_while_a_save_is_in_progress_survive_it():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)  # before: void
    with transaction.atomic():
        product.stock = 1
        product.save()
        increment_elsewhere(product.pk, 2)  # after the save began: kept
    assert django_distcache.get_object(Product, product.pk).stock == 3
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 3
    assert backlog() == []


def test_increments_made_while_an_update_is_in_progress_survive_it():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=100)
        increment_elsewhere(product.pk, 4)
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 104


def test_a_save_longer_than_the_lease_still_supersedes_the_earlier_writes(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_LEASE_TIMEOUT": 0.2}
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        # Runs first among the commit callbacks, before the save's own one.
        transaction.on_commit(lambda: flush_write_behind(Product))
        product.stock = 1
        product.save()
        flush_write_behind(Product)  # while the save's transaction runs on and on
        wait_past_lease = threading.Event()
        wait_past_lease.wait(0.5)
    assert stock_in_db(product.pk) == 1
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 1
    assert django_distcache.get_object(Product, product.pk).stock == 1
    assert backlog() == []


def test_a_save_that_rolls_back_leaves_the_earlier_writes_to_be_flushed():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with pytest.raises(RuntimeError, match="rolled back"):
        save_then_fail(product, stock=1)
    assert django_distcache.get_object(Product, product.pk).stock == 15
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 15
    assert backlog() == []


def test_a_save_rolled_back_to_a_savepoint_keeps_the_earlier_writes(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_LEASE_TIMEOUT": 0.2}
    """Its transaction commits, but not the save: its mark is restored a lease after."""
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic(), pytest.raises(RuntimeError, match="rolled back"):
        save_then_fail(product, stock=1)
    assert django_distcache.get_object(Product, product.pk).stock == 15
    deadline = time.monotonic() + 30
    while stock_in_db(product.pk) != 15 and time.monotonic() < deadline:
        flush_write_behind(Product)
        time.sleep(0.05)
    assert stock_in_db(product.pk) == 15
    assert backlog() == []


def test_delete_supersedes_the_earlier_writes():
    product, kept = ProductFactory.create_batch(2, stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    django_distcache.write_behind_incr(Product, kept.pk, "stock", by=1)
    product.delete()
    counts = flush_write_behind(Product)
    assert counts["rows"] == 1
    assert stock_in_db(kept.pk) == 1


def test_a_transaction_that_saved_other_columns_reads_the_rows_deferred_writes():
    product = ProductFactory(stock=10, name="a")
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        product.name = "b"
        product.save(update_fields=["name"])
        read = django_distcache.get_object(Product, product.pk)
        assert (read.name, read.stock) == ("b", 15)
        assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 15


def test_a_transaction_that_saved_the_column_reads_only_the_writes_made_after():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with transaction.atomic():
        product.stock = 1
        product.save()
        increment_elsewhere(product.pk, 2)
        assert django_distcache.get_object(Product, product.pk).stock == 3
        assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 3


def test_deferred_writes_in_an_atomic_block_take_effect_when_it_commits():
    product = ProductFactory(stock=10, name="a")
    with transaction.atomic():
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
        product.name = "b"
        django_distcache.write_behind(product, fields=["name"])
        # The transaction reads its own deferred writes; nobody else does yet.
        read = django_distcache.get_object(Product, product.pk)
        assert (read.stock, read.name) == (12, "b")
        assert backlog() == []
    read = django_distcache.get_object(Product, product.pk)
    assert (read.stock, read.name) == (12, "b")
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 12


def increment_then_fail(pk: int, by: int) -> None:
    with transaction.atomic():
        django_distcache.write_behind_incr(Product, pk, "stock", by=by)
        raise RuntimeError("rolled back")


def test_deferred_writes_in_an_atomic_block_that_rolls_back_vanish():
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)  # cached
    with pytest.raises(RuntimeError, match="rolled back"):
        increment_then_fail(product.pk, 2)
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="rolled back"):
            increment_then_fail(product.pk, 3)  # in a savepoint
        assert django_distcache.get_object(Product, product.pk).stock == 10
    assert django_distcache.get_object(Product, product.pk).stock == 10
    assert flush_write_behind(Product)["rows"] == 0
    assert stock_in_db(product.pk) == 10
    assert backlog() == []
