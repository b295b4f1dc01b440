"""Async reads share the near cache with sync reads: they read it and fill it alike."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

import django_distcache
from tests.test_async import run
from tests.test_near_cache import (  # noqa: F401  (the fixtures)
    applied,
    l1,
    processes,
    settled,
    wait_for,
)
from tests.testapp.models import Category

# On one Redis and on a Redis Cluster (tests/cluster.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def test_aget_object_is_served_by_the_near_cache_sync_reads_filled(requests_counted, l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="books")
    settled(l1)
    django_distcache.get_object(Category, category.pk)
    django_distcache.get_object(Category, category.pk)  # generations exist: kept in L1
    hits = l1.info()["hits"]

    async def read_many() -> list[str]:
        return [(await django_distcache.aget_object(Category, category.pk)).name for _ in range(20)]

    requests_counted.reset()
    assert run(read_many) == ["books"] * 20
    assert requests_counted.count == 0
    assert l1.info()["hits"] == hits + 20


def test_a_sync_read_after_an_async_read_is_an_l1_hit(l1, django_assert_num_queries):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="books")
    settled(l1)

    async def read() -> str:
        return (await django_distcache.aget_object(Category, category.pk)).name

    assert run(read) == "books"  # a miss: the generations are made
    assert run(read) == "books"  # a Redis hit, kept in L1
    hits = l1.info()["hits"]
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Category, category.pk).name == "books"
        assert run(read) == "books"
    assert l1.info()["hits"] == hits + 2


def test_a_first_async_read_of_a_row_is_kept_once_the_generations_exist(l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    first, second = Category.objects.create(name="a"), Category.objects.create(name="b")
    settled(l1)
    run(lambda: django_distcache.aget_object(Category, first.pk))  # the generations exist
    # A miss of another row: loaded, stored in Redis and kept in L1 in one read.
    assert run(lambda: django_distcache.aget_object(Category, second.pk)).name == "b"
    hits = l1.info()["hits"]
    assert django_distcache.get_object(Category, second.pk).name == "b"
    assert l1.info()["hits"] == hits + 1


def test_an_async_read_that_crosses_an_invalidation_keeps_nothing(l1, processes):  # noqa: F811
    """The reply of the async read's query is older than an invalidation that another
    process's commit made, applied here before the reply is used."""
    django_distcache.register(Category, near_cache=True)
    other = Category.objects.create(name="other")
    category = Category.objects.create(name="old")
    settled(l1)
    django_distcache.get_object(Category, other.pk)  # the generations exist
    writer = processes()
    crossed: list[int] = []

    def write_meanwhile(execute, sql, params, many, context):
        rows = execute(sql, params, many, context)
        if "testapp_category" in sql and not crossed:
            crossed.append(writer.ask("write", category.pk, "new")["sequence"])
            wait_for(applied(l1, crossed[0]))
        return rows

    async def read() -> str:
        # Django runs the async ORM's queries on one thread: its connection is watched.
        await sync_to_async(lambda: connection.execute_wrappers.append(write_meanwhile))()
        try:
            return (await django_distcache.aget_object(Category, category.pk)).name
        finally:
            await sync_to_async(lambda: connection.execute_wrappers.remove(write_meanwhile))()

    assert run(read) == "old"
    assert crossed
    assert l1.info()["refused"] >= 1
    assert django_distcache.get_object(Category, category.pk).name == "new"
    assert run(lambda: django_distcache.aget_object(Category, category.pk)).name == "new"


def test_aget_objects_fills_and_reads_l1(l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    rows = [Category.objects.create(name=f"c{i}") for i in range(3)]
    pks = [row.pk for row in rows]
    settled(l1)
    run(lambda: django_distcache.aget_objects(Category, pks[:1]))  # the generations exist
    found = run(lambda: django_distcache.aget_objects(Category, pks))
    assert {pk: obj.name for pk, obj in found.items()} == {pk: f"c{i}" for i, pk in enumerate(pks)}
    hits = l1.info()["hits"]
    assert len(run(lambda: django_distcache.aget_objects(Category, pks))) == 3
    assert len(django_distcache.get_objects(Category, pks)) == 3
    assert l1.info()["hits"] == hits + 6


def test_async_cached_functions_fill_l1_and_a_crossed_read_keeps_nothing(l1, processes):  # noqa: F811
    category = Category.objects.create(name="old")
    writer = processes()
    crossed: list[Any] = []

    @django_distcache.cached(depends_on=[Category], near_cache=True)
    async def names() -> list[str]:
        found = [name async for name in Category.objects.values_list("name", flat=True)]
        if len(crossed) == 1:
            crossed.append(writer.ask("write", category.pk, "new")["sequence"])
            wait_for(applied(l1, crossed[1]))
        return found

    settled(l1)
    assert run(names) == ["old"]  # the generations exist
    assert run(names) == ["old"]  # kept in L1
    hits = l1.info()["hits"]
    assert run(names) == ["old"]
    assert l1.info()["hits"] == hits + 1
    names.invalidate_all()
    settled(l1)
    crossed.append("armed")
    assert run(names) == ["old"]
    assert len(crossed) == 2
    assert l1.info()["refused"] >= 1
    assert run(names) == ["new"]


def test_aget_or_set_shares_the_near_cache_with_get_or_set(l1):  # noqa: F811
    django_distcache.invalidate_tag("t")  # the tag's generation exists
    settled(l1)

    async def read() -> Any:
        return await django_distcache.aget_or_set("k", dict, tags=["t"], near_cache=True)

    for _ in range(2):  # the first makes the generations, the second fills L1
        django_distcache.get_or_set("k", lambda: {"n": 1}, tags=["t"], near_cache=True)
    hits = l1.info()["hits"]
    value = run(read)
    assert value == {"n": 1}
    value["n"] = 5
    assert run(read) == {"n": 1}
    assert l1.info()["hits"] == hits + 2
