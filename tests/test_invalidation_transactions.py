"""When invalidation runs: first at commit, never skipped, manual transactions, explicit calls."""

import subprocess
import sys

import pytest
from django.db import connection, transaction

import django_distcache
from tests.shapes.models import Place, Restaurant
from tests.test_races import ROOT, child_env
from tests.threads import run_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def cached_name(pk):
    return django_distcache.get_object(Place, pk).name


def test_invalidation_runs_before_on_commit_hooks_registered_earlier():
    place = Place.objects.create(name="old")
    cached_name(place.pk)
    seen = []
    with transaction.atomic():
        # e.g. a Celery task enqueued before the write, that reads the row
        transaction.on_commit(lambda: seen.append(run_in_thread(cached_name, place.pk)))
        place.name = "new"
        place.save()
    assert seen == ["new"]


def test_a_failing_on_commit_hook_does_not_skip_the_invalidation():
    place = Place.objects.create(name="old")
    cached_name(place.pk)

    def fail():
        raise RuntimeError("a hook of the application failed")

    def write():
        with transaction.atomic():
            transaction.on_commit(fail)
            place.name = "new"
            place.save()

    with pytest.raises(RuntimeError):
        write()
    assert Place.objects.get(pk=place.pk).name == "new"
    assert cached_name(place.pk) == "new"


def test_manual_transaction_invalidates_at_commit_not_before():
    place = Place.objects.create(name="old")
    cached_name(place.pk)
    transaction.set_autocommit(False)
    try:
        Place.objects.filter(pk=place.pk).update(name="new")
        # the writer reads its own write, and caches nothing of it
        assert cached_name(place.pk) == "new"
        # others still read the committed row; what they cache meanwhile must go at commit
        assert run_in_thread(cached_name, place.pk) == "old"
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert run_in_thread(cached_name, place.pk) == "new"
    assert cached_name(place.pk) == "new"


def test_manual_transaction_rolled_back_invalidates_nothing(django_assert_num_queries):
    place = Place.objects.create(name="old")
    cached_name(place.pk)
    transaction.set_autocommit(False)
    try:
        Place.objects.filter(pk=place.pk).update(name="never")
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    with django_assert_num_queries(0):
        assert cached_name(place.pk) == "old"


def raw_rename(pk, name):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Place._meta.db_table} SET name = %s WHERE id = %s", [name, pk])


def test_invalidate_by_model_label_after_raw_sql():
    place = Place.objects.create(name="old")
    cached_name(place.pk)
    raw_rename(place.pk, "new")
    assert cached_name(place.pk) == "old"
    django_distcache.invalidate("shapes.Place")
    assert cached_name(place.pk) == "new"


def test_invalidate_model_label_drops_its_dependents():
    Place.objects.create(name="a")
    calls = []

    @django_distcache.cached(depends_on=["shapes.Place"])
    def names():
        calls.append(1)
        return sorted(Place.objects.values_list("name", flat=True))

    names()
    names()
    django_distcache.invalidate("shapes.Place")
    names()
    assert len(calls) == 2


def test_explicit_invalidations_inside_atomic_wait_for_commit():
    calls = []

    @django_distcache.cached(tags=["menu"])
    def menu():
        calls.append(1)
        return len(calls)

    assert menu() == 1
    with transaction.atomic():
        django_distcache.invalidate_tag("menu")
        menu.invalidate()
        django_distcache.invalidate("shapes.Place")
        # not yet: another connection still gets the cached value
        assert run_in_thread(menu) == 1
    assert menu() == 2


def test_invalidation_reloads_its_script_after_a_script_flush(raw_redis):
    place = Place.objects.create(name="old")
    cached_name(place.pk)
    raw_redis.script_flush()
    Place.objects.filter(name="old").update(name="new")  # rows unknown: a generation bump
    assert cached_name(place.pk) == "new"


CHILD_WRITE = """
import django
django.setup()
from django.db import transaction
from tests.shapes.models import Place
with transaction.atomic():
    Place._base_manager.filter(city="elsewhere").update(name="written by another process")
"""


def test_a_write_in_another_process_invalidates_what_this_one_cached():
    restaurant = Restaurant.objects.create(name="old", city="elsewhere")
    assert django_distcache.get_object(Restaurant, restaurant.pk).name == "old"
    subprocess.run(
        [sys.executable, "-c", CHILD_WRITE], cwd=ROOT, env=child_env(), check=True, timeout=120
    )
    assert (
        django_distcache.get_object(Restaurant, restaurant.pk).name == "written by another process"
    )
