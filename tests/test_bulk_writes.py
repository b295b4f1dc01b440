"""bulk_create(update_conflicts=True) rewrites existing rows: their entries and dependents go."""

from __future__ import annotations

import pytest

import django_distcache
from django_distcache import DistcacheQuerySet
from tests.factories import CategoryFactory, ProductFactory, TagFactory
from tests.testapp.models import Product, Tag, Uncached

pytestmark = pytest.mark.django_db(transaction=True)


def _names_in(category_id: int) -> list[str]:
    return django_distcache.get_or_set(
        f"names:{category_id}",
        lambda: list(
            Product.objects.filter(category_id=category_id)
            .order_by("pk")
            .values_list("name", flat=True)
        ),
        depends_on=[Product],
    )


def test_upsert_over_existing_rows_refreshes_their_entries_and_dependents():
    category = CategoryFactory()
    first, second = (
        ProductFactory(name="old 1", category=category),
        ProductFactory(name="old 2", category=category),
    )
    assert django_distcache.get_object(Product, first.pk).name == "old 1"
    assert _names_in(category.pk) == ["old 1", "old 2"]

    Product.objects.bulk_create(
        [
            Product(pk=first.pk, name="new 1", category=category),
            Product(pk=second.pk, name="new 2", category=category),
        ],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["name"],
    )

    assert django_distcache.get_object(Product, first.pk).name == "new 1"
    assert django_distcache.get_objects(Product, [second.pk])[second.pk].name == "new 2"
    assert _names_in(category.pk) == ["new 1", "new 2"]


def test_upsert_conflicting_on_another_field_invalidates_the_row_it_updated(
    django_assert_num_queries,
):
    # The new object's pk is not the pk of the row its conflict updated: only the
    # whole model's entries can be dropped.
    existing = TagFactory(name="sale")
    django_distcache.get_object(Tag, existing.pk)
    with django_assert_num_queries(0):
        django_distcache.get_object(Tag, existing.pk)

    DistcacheQuerySet(model=Tag).bulk_create(
        [Tag(pk=existing.pk + 1000, name="sale")],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["name"],
    )

    assert list(Tag.objects.values_list("pk", flat=True)) == [existing.pk]
    with django_assert_num_queries(1):  # the updated row is read again
        assert django_distcache.get_object(Tag, existing.pk).name == "sale"


def test_plain_bulk_create_drops_only_the_new_rows_cached_misses(django_assert_num_queries):
    kept = ProductFactory(name="kept")
    django_distcache.get_object(Product, kept.pk)
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 424_243)

    (created,) = Product.objects.bulk_create([Product(pk=424_243, name="created")])
    assert created.pk == 424_243

    assert django_distcache.get_object(Product, 424_243).name == "created"
    with django_assert_num_queries(0):  # other rows' entries stay
        assert django_distcache.get_object(Product, kept.pk).name == "kept"


def test_the_manager_returns_what_django_returns(django_assert_num_queries):
    category = CategoryFactory()
    products = ProductFactory.create_batch(3, category=category)
    for product in products:
        django_distcache.get_object(Product, product.pk)
    assert Product.objects.filter(pk=products[0].pk).update(name="renamed") == 1
    products[1].name = "bulk renamed"
    assert Product.objects.bulk_update([products[1]], ["name"]) == 1
    deleted, per_model = Product.objects.filter(pk=products[2].pk).delete()
    assert (deleted, per_model["testapp.Product"]) == (1, 1)
    assert django_distcache.get_object(Product, products[0].pk).name == "renamed"
    assert django_distcache.get_object(Product, products[1].pk).name == "bulk renamed"
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, products[2].pk)


def test_the_queryset_works_on_a_model_that_is_not_registered():
    # DistcacheQuerySet on a model only other entries depend on: no write-behind lookups.
    row = Uncached.objects.create(name="a")
    assert DistcacheQuerySet(model=Uncached).filter(pk=row.pk).update(name="b") == 1
    assert Uncached.objects.get(pk=row.pk).name == "b"
