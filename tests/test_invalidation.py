"""Every write path leaves nothing stale: signals, m2m, dependents, bulk, raw SQL, rollback."""

import pytest
from django.db import connection, transaction

import django_distcache
from tests.factories import CategoryFactory, ProductFactory, TagFactory
from tests.testapp.models import Category, Product, Tag
from tests.threads import run_in_thread

# Every test runs on one Redis and on a Redis Cluster.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def cached_name(pk):
    return django_distcache.get_object(Product, pk).name


@django_distcache.cached(depends_on=[Product])
def tag_names(product_id):
    return sorted(Product.objects.get(pk=product_id).tags.values_list("name", flat=True))


@django_distcache.cached(depends_on=["testapp.Tag"])
def products_with_tag(tag_id):
    return sorted(Tag.objects.get(pk=tag_id).products.values_list("name", flat=True))


@django_distcache.cached(depends_on=[Category])
def category_names():
    return sorted(Category.objects.values_list("name", flat=True))


def test_save_invalidates_object():
    product = ProductFactory(name="old")
    assert cached_name(product.pk) == "old"
    product.name = "new"
    product.save()
    assert cached_name(product.pk) == "new"


def test_delete_invalidates_object():
    product = ProductFactory()
    cached_name(product.pk)
    pk = product.pk
    product.delete()
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, pk)


def test_save_of_one_object_keeps_the_others_cached(django_assert_num_queries):
    first, second = ProductFactory.create_batch(2)
    cached_name(first.pk)
    cached_name(second.pk)
    first.save()
    with django_assert_num_queries(0):
        cached_name(second.pk)


def test_m2m_add_remove_clear_invalidate_both_sides():
    product = ProductFactory()
    red, blue = TagFactory(name="red"), TagFactory(name="blue")
    assert tag_names(product.pk) == []
    assert products_with_tag(red.pk) == []
    product.tags.add(red, blue)
    assert tag_names(product.pk) == ["blue", "red"]
    assert products_with_tag(red.pk) == [product.name]
    product.tags.remove(blue)
    assert tag_names(product.pk) == ["red"]
    red.products.clear()
    assert tag_names(product.pk) == []
    assert products_with_tag(red.pk) == []


def test_dependency_change_invalidates_dependents(django_assert_num_queries):
    product = ProductFactory()
    cached_name(product.pk)
    assert category_names() == [product.category.name]
    with django_assert_num_queries(0):
        cached_name(product.pk)
    category = product.category
    category.name = "renamed"
    category.save()
    # Product is registered with depends_on=[Category]
    with django_assert_num_queries(1):
        cached_name(product.pk)
    assert category_names() == ["renamed"]


def test_queryset_update_invalidates():
    products = ProductFactory.create_batch(3, stock=1)
    for p in products:
        django_distcache.get_object(Product, p.pk)
    Product.objects.filter(pk__in=[p.pk for p in products]).update(stock=7)
    assert {django_distcache.get_object(Product, p.pk).stock for p in products} == {7}


def test_queryset_delete_invalidates():
    products = ProductFactory.create_batch(2)
    for p in products:
        django_distcache.get_object(Product, p.pk)
    Product.objects.filter(pk=products[0].pk).delete()
    assert django_distcache.get_objects(Product, [p.pk for p in products]).keys() == {
        products[1].pk
    }


def test_bulk_update_invalidates():
    products = ProductFactory.create_batch(3, stock=1)
    for p in products:
        django_distcache.get_object(Product, p.pk)
        p.stock = 5
    Product.objects.bulk_update(products, ["stock"])
    assert {django_distcache.get_object(Product, p.pk).stock for p in products} == {5}


def test_bulk_create_invalidates_dependents():
    category = CategoryFactory()
    assert [p.name for p in products_in(category.pk)] == []
    Product.objects.bulk_create([Product(name="a", category=category)])
    assert [p.name for p in products_in(category.pk)] == ["a"]


@django_distcache.cached(depends_on=[Product])
def products_in(category_id):
    return Product.objects.filter(category_id=category_id).order_by("name")


def test_cached_queryset_result_is_a_list_of_instances():
    category = CategoryFactory()
    ProductFactory(name="b", category=category)
    first = products_in(category.pk)
    second = products_in(category.pk)
    assert isinstance(first, list)
    assert isinstance(second, list)
    assert [p.name for p in second] == ["b"]
    assert isinstance(second[0], Product)


def test_raw_sql_with_explicit_invalidation():
    product = ProductFactory(name="before")
    cached_name(product.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Product._meta.db_table} SET name = %s WHERE id = %s", ["after", product.pk]
        )
    assert cached_name(product.pk) == "before"  # no signal: the app must say so
    django_distcache.invalidate_objects(Product, [product.pk])
    assert cached_name(product.pk) == "after"


def test_invalidate_model_drops_every_object():
    product = ProductFactory(name="before")
    cached_name(product.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Product._meta.db_table} SET name = %s", ["after"])
    django_distcache.invalidate(Product)
    assert cached_name(product.pk) == "after"
    django_distcache.invalidate("testapp.Product")


def test_invalidation_waits_for_commit():
    product = ProductFactory(name="old")
    cached_name(product.pk)
    seen_inside = []
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(name="new")
        Product.objects.get(pk=product.pk).save()
        # another connection (thread) still sees the committed row, from the cache
        seen_inside.append(run_in_thread(cached_name, product.pk))
        # the writing transaction reads its own write and caches nothing of it
        assert cached_name(product.pk) == "new"
    assert seen_inside == ["old"]
    assert cached_name(product.pk) == "new"


def test_concurrent_reader_during_transaction_leaves_nothing_stale():
    product = ProductFactory(name="old")
    with transaction.atomic():
        product.name = "new"
        product.save()
        # a concurrent reader misses, loads the committed "old" row and caches it
        run_in_thread(cached_name, product.pk)
    assert cached_name(product.pk) == "new"


def test_rollback_leaves_cache_consistent(django_assert_num_queries):
    product = ProductFactory(name="committed")
    cached_name(product.pk)
    seen_inside = []

    def write_then_fail():
        with transaction.atomic():
            product.name = "rolled back"
            product.save()
            seen_inside.append(cached_name(product.pk))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert seen_inside == ["rolled back"]
    assert cached_name(product.pk) == "committed"
    # the rolled-back write invalidated nothing: the entry is still served
    with django_assert_num_queries(0):
        cached_name(product.pk)


def test_savepoint_rollback_keeps_outer_invalidation():
    first, second = ProductFactory.create_batch(2, name="old")
    cached_name(first.pk)
    cached_name(second.pk)
    with transaction.atomic():
        first.name = "new"
        first.save()
        try:
            with transaction.atomic():
                second.name = "never"
                second.save()
                raise RuntimeError
        except RuntimeError:
            pass
    assert cached_name(first.pk) == "new"
    assert cached_name(second.pk) == "old"


def test_cached_function_invalidate_one_entry(django_assert_num_queries):
    calls = []

    @django_distcache.cached(timeout=60)
    def square(n):
        calls.append(n)
        return n * n

    assert square(3) == 9
    assert square(4) == 16
    assert square(3) == 9
    assert calls == [3, 4]
    square.invalidate(3)
    assert square(3) == 9
    assert square(4) == 16
    assert calls == [3, 4, 3]
    square.invalidate_all()
    square(4)
    assert calls == [3, 4, 3, 4]


def test_tags_invalidate_get_or_set_entries():
    calls = []

    def load():
        calls.append(1)
        return {"n": len(calls)}

    assert django_distcache.get_or_set("home page", load, tags=["catalogue"]) == {"n": 1}
    assert django_distcache.get_or_set("home page", load, tags=["catalogue"]) == {"n": 1}
    django_distcache.invalidate("catalogue")
    assert django_distcache.get_or_set("home page", load, tags=["catalogue"]) == {"n": 2}


def test_get_or_set_depends_on_model():
    ProductFactory(name="x")

    def load():
        return sorted(Product.objects.values_list("name", flat=True))

    assert django_distcache.get_or_set("names", load, depends_on=[Product]) == ["x"]
    ProductFactory(name="y")
    assert django_distcache.get_or_set("names", load, depends_on=[Product]) == ["x", "y"]


def test_invalidated_signal_is_sent():
    from django_distcache.signals import invalidated

    received = []

    def receiver(sender, generations, entries, **kwargs):
        received.append(generations)

    invalidated.connect(receiver)
    try:
        ProductFactory()
    finally:
        invalidated.disconnect(receiver)
    assert any("dctest:gen:model:testapp.product" in g for g in received)
