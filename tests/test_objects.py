"""get_object / get_objects: hits, misses, "does not exist", types, round trips."""

import uuid
from decimal import Decimal

import pytest
from django.db import connections

import django_distcache
from django_distcache import NotRegistered
from tests.factories import DocumentFactory, ProductFactory
from tests.testapp.models import Category, Document, Product, Uncached

# Every test runs on one Redis and on a Redis Cluster.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def test_hit_costs_no_query_and_one_round_trip(round_trips, django_assert_num_queries):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    round_trips.reset()
    with django_assert_num_queries(0):
        cached = django_distcache.get_object(Product, product.pk)
    assert round_trips.count == 1
    assert cached == product
    assert cached.name == product.name


def test_cached_instance_round_trips_every_field_type():
    product = ProductFactory(price=Decimal("12.50"), attributes={"size": [1, 2], "ok": True})
    django_distcache.get_object(Product, product.pk)
    cached = django_distcache.get_object(Product, product.pk)
    assert cached.price == Decimal("12.50")
    assert isinstance(cached.price, Decimal)
    assert cached.attributes == {"size": [1, 2], "ok": True}
    assert cached.updated_at == Product.objects.get(pk=product.pk).updated_at
    assert cached.category_id == product.category_id
    assert cached._state.adding is False
    assert cached._state.db == "default"


def test_uuid_primary_key_given_as_string_or_uuid():
    document = DocumentFactory()
    first = django_distcache.get_object(Document, str(document.pk))
    again = django_distcache.get_object(Document, uuid.UUID(str(document.pk)))
    assert first.pk == again.pk == document.pk


def test_missing_row_raises_does_not_exist_and_is_cached(django_assert_num_queries):
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 999_999)
    with django_assert_num_queries(0), pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 999_999)


def test_created_row_replaces_cached_miss():
    category = ProductFactory().category
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 424242)
    Product.objects.create(pk=424242, name="new", category=category)
    assert django_distcache.get_object(Product, 424242).name == "new"


def test_bulk_created_row_replaces_cached_miss():
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 515151)
    Product.objects.bulk_create([Product(pk=515151, name="bulk")])
    assert django_distcache.get_object(Product, 515151).name == "bulk"


def test_unregistered_model_gives_clear_error():
    with pytest.raises(NotRegistered, match="register"):
        django_distcache.get_object(Uncached, 1)


def test_get_objects_one_query_for_misses_then_none(round_trips, django_assert_num_queries):
    products = ProductFactory.create_batch(5)
    pks = [p.pk for p in products]
    django_distcache.get_object(Product, pks[0])
    with django_assert_num_queries(1):
        found = django_distcache.get_objects(Product, [*pks, 987654])
    assert sorted(found) == sorted(pks)
    round_trips.reset()
    with django_assert_num_queries(0):
        again = django_distcache.get_objects(Product, pks)
    assert round_trips.count == 1
    assert {pk: p.name for pk, p in again.items()} == {p.pk: p.name for p in products}


def test_get_objects_sees_missing_rows_as_absent():
    assert django_distcache.get_objects(Product, [1234567]) == {}
    assert django_distcache.get_objects(Product, [1234567]) == {}
    assert django_distcache.get_objects(Product, []) == {}


def test_entries_get_the_ttl_with_jitter(raw_redis, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "TIMEOUT_JITTER": 0.5}
    products = ProductFactory.create_batch(20)
    django_distcache.get_objects(Product, [p.pk for p in products])
    ttls = [raw_redis.pttl(k) for k in raw_redis.scan_iter(match="dctest:v1:obj:*")]
    assert len(ttls) == 20
    # registered with timeout=600: between 300 s and 600 s, not all alike
    assert all(300_000 <= t <= 600_000 for t in ttls)
    assert len({t // 1000 for t in ttls}) > 1


def test_keys_carry_prefix_schema_version_and_generation(raw_redis):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    (key,) = raw_redis.scan_iter(match="dctest:v*:obj:*")
    assert key.decode().startswith("dctest:v1:obj:testapp.product.")
    assert key.decode().endswith(f":{product.pk}")
    # the entry carries the generations it was loaded under
    objects_gen = raw_redis.get("dctest:gen:objects:testapp.product")
    category_gen = raw_redis.get("dctest:gen:model:testapp.category")
    epoch = raw_redis.get("dctest:gen:epoch")
    assert raw_redis.get(key).startswith(epoch + b"." + objects_gen + b"." + category_gen + b"|")


def test_generation_bump_invalidates_a_group_in_one_write(raw_redis, django_assert_num_queries):
    products = ProductFactory.create_batch(3)
    django_distcache.get_objects(Product, [p.pk for p in products])
    stored = sorted(raw_redis.scan_iter(match="dctest:v1:obj:*"))
    raw_redis.incr("dctest:gen:objects:testapp.product")
    with django_assert_num_queries(1):
        django_distcache.get_objects(Product, [p.pk for p in products])
    assert sorted(raw_redis.scan_iter(match="dctest:v1:obj:*")) == stored


def test_schema_version_bump_misses_everything(settings, django_assert_num_queries):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    settings.DISTCACHE = {**settings.DISTCACHE, "SCHEMA_VERSION": 2}
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, product.pk)


def test_instances_belong_to_the_database_alias_they_were_read_from(django_assert_num_queries):
    product = ProductFactory()
    with django_assert_num_queries(1, connection=connections["default"]):
        loaded = django_distcache.get_object(Product, product.pk, using="default")
    with django_assert_num_queries(0):
        cached = django_distcache.get_object(Product, product.pk, using="default")
        found = django_distcache.get_objects(Product, [product.pk], using="default")
    assert loaded._state.db == cached._state.db == found[product.pk]._state.db == "default"
    assert cached.pk == found[product.pk].pk == product.pk


def test_cached_instances_send_post_init_when_someone_listens():
    from django.db.models.signals import post_init

    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Product)
    try:
        cached = django_distcache.get_object(Product, product.pk)
    finally:
        post_init.disconnect(receiver, sender=Product)
    assert seen == [product.pk]
    assert cached.name == product.name
    assert django_distcache.get_object(Product, product.pk).name == product.name


class ReadsFromOther:
    """A router that sends every read to ``other``."""

    def db_for_read(self, model, **hints):
        return "other"


def test_routers_are_asked_for_reads_only_when_one_routes_reads(settings):
    from django_distcache.reads.objects import read_database

    assert settings.DATABASE_ROUTERS  # the test project's: it only allows migrations
    assert read_database(Category) == "default"
    settings.DATABASE_ROUTERS = [*settings.DATABASE_ROUTERS, "tests.test_objects.ReadsFromOther"]
    assert read_database(Category) == "other"
    settings.DATABASE_ROUTERS = []
    assert read_database(Category) == "default"
