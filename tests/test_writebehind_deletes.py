"""A direct delete supersedes the deferred writes made before it; proxies order like
their concrete model."""

from __future__ import annotations

import threading

import pytest
from django.db import models, transaction

import django_distcache
from django_distcache.writebehind import backlog, dead_letters, flush_write_behind
from tests.factories import ProductFactory
from tests.shapes.models import Item, Shelf
from tests.testapp.models import Product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


class ProductProxy(Product):
    """A proxy defined after Product's registration, as a project's other app would."""

    class Meta:
        proxy = True
        app_label = "testapp"


def stock_in_db(pk: int) -> int:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


def increment_elsewhere(pk: int, by: int) -> None:
    """An increment made by another request (thread), outside this transaction."""
    thread = threading.Thread(
        target=django_distcache.write_behind_incr, args=(Product, pk, "stock"), kwargs={"by": by}
    )
    thread.start()
    thread.join(timeout=30)


def assert_nothing_left() -> None:
    assert dead_letters(Product) == []
    assert backlog() == []


def test_delete_supersedes_the_writes_made_before_it_without_a_dead_letter():
    product, kept = ProductFactory.create_batch(2, stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    product.name = "renamed"
    django_distcache.write_behind(product, fields=["name"])
    django_distcache.write_behind_incr(Product, kept.pk, "stock", by=1)
    product.delete()
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 0)
    assert stock_in_db(kept.pk) == 1
    assert not Product.objects.filter(name="renamed").exists()
    assert_nothing_left()


def test_queryset_delete_supersedes_the_writes_made_before_it():
    first, second, kept = ProductFactory.create_batch(3, stock=0)
    for product in (first, second, kept):
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    # The base manager: a plain QuerySet, not DistcacheQuerySet.
    Product._base_manager.filter(pk__in=[first.pk, second.pk]).delete()
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 0)
    assert stock_in_db(kept.pk) == 2
    assert_nothing_left()


def test_a_cascaded_delete_supersedes_the_writes_made_before_it():
    django_distcache.register(Item, write_behind=True)
    shelf = Shelf.objects.create(name="s")
    boxed, loose = Item.objects.create(name="a", boxed_in=shelf), Item.objects.create(name="b")
    for item in (boxed, loose):
        item.name = "written"
        django_distcache.write_behind(item, fields=["name"])
    shelf.delete()  # cascades to the boxed item
    counts = flush_write_behind(Item)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 0)
    assert Item.objects.get(pk=loose.pk).name == "written"
    assert dead_letters(Item) == []
    assert backlog() == []


def test_writes_made_after_a_delete_are_dead_lettered_and_only_those():
    """The documented rule: a deferred write made after the delete of its row names a
    row that no longer exists; it is kept as a dead letter (to replay if the row comes
    back), never applied."""
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)  # superseded
    pk = product.pk
    product.delete()
    django_distcache.write_behind_incr(Product, pk, "stock", by=2)
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (0, 1)
    [letter] = dead_letters(Product)
    assert (letter["pk"], letter["increments"]) == (str(pk), {"stock": 2})
    assert "no longer exists" in letter["error"]


def test_writes_made_while_a_delete_is_in_progress_follow_the_same_rule():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)  # superseded
    pk = product.pk
    with transaction.atomic():
        product.delete()
        increment_elsewhere(pk, 3)  # after the delete began: kept, then dead-lettered
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (0, 1)
    [letter] = dead_letters(Product)
    assert letter["increments"] == {"stock": 3}


def delete_then_fail(product: models.Model) -> None:
    with transaction.atomic():
        product.delete()
        raise RuntimeError("rolled back")


def test_a_delete_that_rolls_back_leaves_the_earlier_writes_to_be_flushed():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    with pytest.raises(RuntimeError, match="rolled back"):
        delete_then_fail(Product.objects.get(pk=product.pk))
    assert django_distcache.get_object(Product, product.pk).stock == 15
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 15
    assert_nothing_left()


def test_a_proxy_buffers_into_its_concrete_models_buffer():
    product = ProductFactory(stock=10)
    proxied = ProductProxy.objects.get(pk=product.pk)
    proxied.stock = 4
    django_distcache.write_behind(proxied, fields=["stock"])
    django_distcache.write_behind_incr(ProductProxy, product.pk, "stock", by=1)
    assert django_distcache.get_object(Product, product.pk).stock == 5
    assert flush_write_behind(Product)["rows"] == 1
    assert stock_in_db(product.pk) == 5
    assert_nothing_left()


def test_a_proxy_save_supersedes_the_earlier_writes():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    proxied = ProductProxy.objects.get(pk=product.pk)
    proxied.stock = 1
    proxied.save()
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 1
    assert_nothing_left()


def test_a_proxy_update_supersedes_the_earlier_writes():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    ProductProxy.objects.filter(pk=product.pk).update(stock=100)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=1)  # after: kept
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 101
    assert_nothing_left()


def test_a_proxy_delete_supersedes_the_earlier_writes():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    ProductProxy.objects.get(pk=product.pk).delete()
    assert flush_write_behind(Product)["dead_lettered"] == 0
    assert_nothing_left()
