"""Inside a transaction that wrote a model, reads of what it touched skip the cache."""

from __future__ import annotations

import pytest
from django.db import transaction

import django_distcache
from tests.factories import CategoryFactory, ProductFactory
from tests.testapp.models import Category, Product

pytestmark = pytest.mark.django_db(transaction=True)


@django_distcache.cached(depends_on=[Product])
def product_names() -> list[str]:
    return sorted(Product.objects.values_list("name", flat=True))


def _category_names() -> list[str]:
    return django_distcache.get_or_set(
        "category-names",
        lambda: sorted(Category.objects.values_list("name", flat=True)),
        depends_on=[Category],
    )


def test_a_transaction_reads_its_own_writes_and_still_hits_what_it_did_not_touch(
    django_assert_num_queries,
):
    product = ProductFactory(name="before", category=CategoryFactory(name="lamps"))
    assert product_names() == ["before"]
    assert _category_names() == ["lamps"]
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(name="after")
        with django_assert_num_queries(1):  # the database, not the cached ["before"]
            assert product_names() == ["after"]
        with django_assert_num_queries(0):  # Category was not written: a hit
            assert _category_names() == ["lamps"]
        assert django_distcache.get_object(Product, product.pk).name == "after"
    assert product_names() == ["after"]


def test_what_a_rolled_back_transaction_read_is_not_cached(django_assert_num_queries):
    product = ProductFactory(name="kept")
    assert product_names() == ["kept"]
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(name="rolled back")
        assert product_names() == ["rolled back"]
        transaction.set_rollback(True)
    with django_assert_num_queries(0):
        assert product_names() == ["kept"]


def test_a_write_after_a_rolled_back_savepoint_is_invalidated_at_commit():
    kept, changed = ProductFactory(name="kept"), ProductFactory(name="old")
    for product in (kept, changed):
        django_distcache.get_object(Product, product.pk)
    with transaction.atomic():
        transaction.on_commit(lambda: None)  # some other callback of the application
        try:
            with transaction.atomic():
                Product.objects.filter(pk=kept.pk).update(name="rolled back")
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        Product.objects.filter(pk=changed.pk).update(name="new")
    assert django_distcache.get_object(Product, changed.pk).name == "new"
    assert django_distcache.get_object(Product, kept.pk).name == "kept"


def test_get_objects_inside_a_transaction_reads_the_rows_it_wrote(django_assert_num_queries):
    written, untouched = ProductFactory(name="old"), ProductFactory(name="same")
    django_distcache.get_objects(Product, [written.pk, untouched.pk])
    with transaction.atomic():
        written.name = "new"
        written.save()
        found = django_distcache.get_objects(Product, [written.pk, untouched.pk])
    assert {pk: p.name for pk, p in found.items()} == {written.pk: "new", untouched.pk: "same"}


def test_get_objects_shows_buffered_write_behind_writes():
    product = ProductFactory(stock=1)
    django_distcache.get_objects(Product, [product.pk])
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 5
    assert Product.objects.get(pk=product.pk).stock == 1  # not flushed yet


def _commit_round_trips(round_trips, *categories) -> int:
    with transaction.atomic():
        for category in categories:
            category.name += " renamed"
            category.save()
        round_trips.reset()
    return round_trips.count  # sent when the transaction commits


def test_the_invalidations_of_a_transaction_go_out_together(round_trips):
    first, second, third = CategoryFactory.create_batch(3)
    one_write = _commit_round_trips(round_trips, first)
    assert one_write >= 1
    assert _commit_round_trips(round_trips, second, third) == one_write
