"""Opt-in invalidation of raw SQL writes, by the tables they name; its system check."""

import pytest
from django.core.checks import run_checks
from django.db import connection, transaction

import django_distcache
from django_distcache.invalidation.rawsql import written_tables
from tests.shapes.models import Place, Restaurant
from tests.threads import run_in_thread

TABLE = Place._meta.db_table


def test_written_tables_are_recognised():
    assert written_tables(f'UPDATE "{TABLE}" SET name = %s') == {TABLE}
    assert written_tables(f"insert into {TABLE} (name) values (%s)") == {TABLE}
    assert written_tables(f"DELETE FROM public.{TABLE} WHERE id = 1") == {TABLE}
    assert written_tables(f"TRUNCATE TABLE {TABLE}, b_table") == {TABLE, "b_table"}
    assert written_tables(f"WITH x AS (SELECT 1) UPDATE {TABLE} SET name = 'a'") == {TABLE}
    assert written_tables(f"SELECT * FROM {TABLE}; DELETE FROM other") == {"other"}
    assert written_tables(f"SELECT * FROM {TABLE} WHERE name = 'UPDATE x'") == set()


@pytest.fixture
def raw_sql_invalidation(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "RAW_SQL_INVALIDATION": True}
    connection.close()  # the next connection is opened with the wrapper
    yield
    settings.DISTCACHE = {
        k: v for k, v in settings.DISTCACHE.items() if k != "RAW_SQL_INVALIDATION"
    }
    connection.close()


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def cached_name(pk):
    return django_distcache.get_object(Restaurant, pk).name


@pytest.mark.django_db(transaction=True)
def test_raw_update_of_a_parent_table_invalidates_the_family(raw_sql_invalidation):
    restaurant = Restaurant.objects.create(name="old")
    assert cached_name(restaurant.pk) == "old"
    raw(f"UPDATE {TABLE} SET name = %s WHERE id = %s", ["new", restaurant.pk])
    assert run_in_thread(cached_name, restaurant.pk) == "new"
    assert cached_name(restaurant.pk) == "new"


@pytest.mark.django_db(transaction=True)
def test_raw_write_inside_atomic_invalidates_at_commit(raw_sql_invalidation):
    place = Place.objects.create(name="old")
    django_distcache.get_object(Place, place.pk)
    with transaction.atomic():
        raw(f"UPDATE {TABLE} SET name = %s", ["new"])
        assert run_in_thread(lambda: django_distcache.get_object(Place, place.pk).name) == "old"
    assert django_distcache.get_object(Place, place.pk).name == "new"


@pytest.mark.django_db(transaction=True)
def test_raw_sql_is_not_seen_when_off(django_assert_num_queries):
    place = Place.objects.create(name="old")
    django_distcache.get_object(Place, place.pk)
    raw(f"UPDATE {TABLE} SET name = %s", ["new"])
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Place, place.pk).name == "old"


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"RAW_SQL_INVALIDATION": "yes"}, "distcache.E050"),
        ({"REPLICAS": {"replica": "default"}}, "distcache.E051"),
        ({"REPLICAS": ["other"]}, "distcache.E051"),
        ({"REPLICA_LAG": -1}, "distcache.E051"),
        ({"REPLICA_LAG": "2"}, "distcache.E051"),
    ],
)
def test_bad_invalidation_settings_fail_the_checks(settings, values, check_id):
    settings.DISTCACHE = {**settings.DISTCACHE, **values}
    assert check_id in {error.id for error in run_checks()}


def test_good_invalidation_settings_pass_the_checks(settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "RAW_SQL_INVALIDATION": True,
        "REPLICAS": {"other": "default"},
        "REPLICA_LAG": 2.5,
    }
    ids = {error.id for error in run_checks()}
    assert not ids & {"distcache.E050", "distcache.E051"}
