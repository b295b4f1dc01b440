"""Several databases: keys carry the alias, a write on one alias invalidates its reads."""

import time

import pytest
from django.db import transaction

import django_distcache
from django_distcache.registry import get_config
from tests.shapes.models import Place, Restaurant
from tests.threads import run_in_thread

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "other"])


def name_on(alias, pk):
    return django_distcache.get_object(Place, pk, using=alias).name


def names_on(alias, pk):
    return {k: v.name for k, v in django_distcache.get_objects(Place, [pk], using=alias).items()}


def same_row_on_both():
    Place.objects.using("default").create(pk=7001, name="on default")
    Place.objects.using("other").create(pk=7001, name="on other")
    return 7001


def test_get_object_never_returns_another_database_s_row():
    pk = same_row_on_both()
    assert name_on("default", pk) == "on default"
    assert name_on("other", pk) == "on other"
    # both cached now, each under its own key
    assert name_on("other", pk) == "on other"
    assert name_on("default", pk) == "on default"
    assert names_on("other", pk) == {pk: "on other"}
    assert names_on("default", pk) == {pk: "on default"}


def test_a_cached_missing_row_of_one_database_is_not_another_s():
    Place.objects.using("other").create(pk=7002, name="only on other")
    with pytest.raises(Place.DoesNotExist):
        django_distcache.get_object(Place, 7002)
    assert name_on("other", 7002) == "only on other"


def test_a_write_on_one_alias_invalidates_what_was_read_from_it():
    pk = same_row_on_both()
    name_on("default", pk), name_on("other", pk), names_on("other", pk)
    Place.objects.using("other").filter(pk=pk).update(name="renamed on other")
    assert run_in_thread(name_on, "other", pk) == "renamed on other"
    assert names_on("other", pk) == {pk: "renamed on other"}
    assert name_on("default", pk) == "on default"


def test_save_on_other_alias_invalidates_its_family_there():
    restaurant = Restaurant.objects.using("other").create(name="old")
    assert django_distcache.get_object(Restaurant, restaurant.pk, using="other").name == "old"
    assert name_on("other", restaurant.pk) == "old"
    restaurant.name = "new"
    restaurant.save(using="other")
    assert django_distcache.get_object(Restaurant, restaurant.pk, using="other").name == "new"
    assert name_on("other", restaurant.pk) == "new"


def test_invalidation_on_other_alias_waits_for_its_commit():
    pk = same_row_on_both()
    name_on("other", pk)
    with transaction.atomic(using="other"):
        Place.objects.using("other").filter(pk=pk).update(name="new")
        assert run_in_thread(name_on, "other", pk) == "on other"
    assert run_in_thread(name_on, "other", pk) == "new"


def test_explicit_invalidations_inside_atomic_on_other_alias_wait_for_its_commit():
    calls = []

    @django_distcache.cached(tags=["menu"])
    def menu():
        calls.append(1)
        return len(calls)

    @django_distcache.cached()
    def one():
        calls.append(1)
        return len(calls)

    assert (menu(), one()) == (1, 2)
    with transaction.atomic(using="other"):
        Place.objects.using("other").create(name="x")
        django_distcache.invalidate_tag("menu")
        one.invalidate()
        # another connection still gets the cached values until the commit
        assert run_in_thread(lambda: (menu(), one())) == (1, 2)
    assert (menu(), one()) == (3, 4)


def read_through_replica(pk):
    return django_distcache.get_object(Place, pk, using="other").name


def test_a_replica_miss_soon_after_an_invalidation_reads_the_primary(settings):
    # "other" plays a replica that has not received the write yet.
    settings.DISTCACHE = {**settings.DISTCACHE, "REPLICAS": {"other": "default"}, "REPLICA_LAG": 30}
    Place.objects.using("other").create(pk=7003, name="old")
    place = Place.objects.using("default").create(pk=7003, name="old")
    assert read_through_replica(7003) == "old"
    place.name = "new"
    place.save()
    assert run_in_thread(read_through_replica, 7003) == "new"
    assert read_through_replica(7003) == "new"
    # a replica read shares the primary's entry
    assert django_distcache.get_object(Place, 7003).name == "new"


def test_after_the_lag_a_replica_miss_reads_the_replica(settings, raw_redis):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "REPLICAS": {"other": "default"},
        "REPLICA_LAG": 0.2,
    }
    Place.objects.using("other").create(pk=7004, name="on replica")
    Place.objects.using("default").create(pk=7004, name="on primary")
    # right after the create, a miss reads the primary
    assert read_through_replica(7004) == "on primary"
    deadline = time.monotonic() + 10
    while raw_redis.keys("*!recent"):
        assert time.monotonic() < deadline, "the marks of recent invalidations never expired"
        time.sleep(0.05)
    raw_redis.delete(get_config(Place).object_base(7004, "other"))
    assert read_through_replica(7004) == "on replica"


def test_without_replicas_setting_each_alias_reads_itself(settings):
    Place.objects.using("other").create(pk=7005, name="on other")
    Place.objects.using("default").create(pk=7005, name="on default")
    assert read_through_replica(7005) == "on other"
