"""Tests that kill mutants the rest of the suite lets live: the invalidation modules.

Each pins one behaviour that a change to the code kept passing: the explicit calls
follow the database alias they are given, and drop every cached copy of a row.
"""

from __future__ import annotations

import pytest
from django.db import transaction

import django_distcache
from django_distcache import keys
from django_distcache.registry import get_config
from django_distcache.signals import invalidated
from tests.shapes.models import Place, Restaurant
from tests.testapp.models import Document

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "other"])


def cached_on(alias: str | None, model, pk, raw_redis) -> bool:
    """Whether the entry of row ``pk`` read from ``alias`` is in Redis."""
    return bool(raw_redis.exists(get_config(model).object_base(pk, alias)))


def place_on_both(pk: int) -> int:
    Place.objects.using("default").create(pk=pk, name="on default")
    Place.objects.using("other").create(pk=pk, name="on other")
    return pk


def test_invalidate_objects_drops_the_copies_read_from_every_database(raw_redis):
    pk = place_on_both(7101)
    django_distcache.get_object(Place, pk)
    django_distcache.get_object(Place, pk, using="other")
    assert cached_on(None, Place, pk, raw_redis)
    assert cached_on("other", Place, pk, raw_redis)
    django_distcache.invalidate_objects(Place, [pk])
    assert not cached_on(None, Place, pk, raw_redis)
    assert not cached_on("other", Place, pk, raw_redis)


def test_invalidate_objects_drops_the_copies_of_the_whole_family(raw_redis):
    restaurant = Restaurant.objects.create(name="bistro")
    django_distcache.get_object(Restaurant, restaurant.pk)
    django_distcache.get_object(Place, restaurant.pk)
    django_distcache.invalidate_objects(Place, [restaurant.pk])
    assert not cached_on(None, Restaurant, restaurant.pk, raw_redis)
    assert not cached_on(None, Place, restaurant.pk, raw_redis)


def test_invalidate_objects_on_an_alias_waits_for_that_alias_s_commit(raw_redis):
    pk = place_on_both(7102)
    django_distcache.get_object(Place, pk, using="other")
    with transaction.atomic(using="other"):
        django_distcache.invalidate_objects(Place, [pk], using="other")
        assert cached_on("other", Place, pk, raw_redis)  # not before "other" commits
    assert not cached_on("other", Place, pk, raw_redis)


def test_invalidate_model_on_an_alias_waits_for_that_alias_s_commit(raw_redis):
    pk = place_on_both(7103)
    django_distcache.get_object(Place, pk, using="other")
    generation = keys.objects_generation(Place)
    before = raw_redis.get(generation)
    with transaction.atomic(using="other"):
        django_distcache.invalidate_model(Place, using="other")
        assert raw_redis.get(generation) == before  # not before "other" commits
    assert raw_redis.get(generation) != before


def test_creating_a_row_with_a_key_of_its_own_keeps_the_other_rows_cached(
    django_assert_num_queries,
):
    """A UUID primary key is not returned by the INSERT: the created row is still named
    by its key, so only its own entry goes, not the model's others."""
    first = Document.objects.create(title="first")
    django_distcache.get_object(Document, first.pk)
    Document.objects.create(title="second")
    Document.objects.bulk_create([Document(title="third")])
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Document, first.pk).title == "first"


def test_a_failing_invalidation_does_not_stop_the_transaction_s_later_hooks(caplog):
    """The invalidation is the transaction's first on_commit hook, and a robust one."""

    def broken(**kwargs):
        raise RuntimeError("a receiver of invalidated broke")

    invalidated.connect(broken)  # the registrations_restored fixture disconnects it
    ran = []
    with transaction.atomic():
        Place.objects.create(name="x")
        transaction.on_commit(lambda: ran.append("later hook"))
    assert ran == ["later hook"]
    assert "a receiver of invalidated broke" in caplog.text
