"""Write-behind at its edges: NULL columns, bad values, failing rows, recovery races."""

from __future__ import annotations

import pytest
from django.db import connection

import django_distcache
from django_distcache.writebehind import backlog, dead_letters, flush_write_behind
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def stock_in_db(pk: int) -> int | None:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


@pytest.fixture
def nullable_stock():
    """testapp_product.stock accepts NULL, as a column of a legacy table would."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE testapp_product ALTER COLUMN stock DROP NOT NULL")
    yield
    with connection.cursor() as cursor:
        cursor.execute("UPDATE testapp_product SET stock = 0 WHERE stock IS NULL")
        cursor.execute("ALTER TABLE testapp_product ALTER COLUMN stock SET NOT NULL")


def test_increment_of_a_null_column_reads_and_flushes_as_null_plus_n_is_n(nullable_stock):
    product = ProductFactory(stock=0)
    Product.objects.filter(pk=product.pk).update(stock=None)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    assert django_distcache.get_object(Product, product.pk).stock == 5
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 0)
    assert stock_in_db(product.pk) == 5
    assert django_distcache.get_object(Product, product.pk).stock == 5
    assert backlog() == []
    assert dead_letters(Product) == []


def test_increment_after_a_deferred_null_value_is_n(nullable_stock):
    product = ProductFactory(stock=7)
    product.stock = None
    django_distcache.write_behind(product, fields=["stock"])
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    assert django_distcache.get_object(Product, product.pk).stock == 4
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 4
