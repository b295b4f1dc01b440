"""Async reads share the near cache that sync reads fill."""

from __future__ import annotations

import pytest

import django_distcache
from tests.test_async import run
from tests.test_near_cache import l1, settled  # noqa: F401  (the fixture)
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def test_aget_object_is_served_by_the_near_cache_sync_reads_filled(round_trips, l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="books")
    settled(l1)
    django_distcache.get_object(Category, category.pk)
    django_distcache.get_object(Category, category.pk)  # generations exist: kept in L1
    hits = l1.info()["hits"]

    async def read_many() -> list[str]:
        return [(await django_distcache.aget_object(Category, category.pk)).name for _ in range(20)]

    round_trips.reset()
    assert run(read_many) == ["books"] * 20
    assert round_trips.count == 0
    assert l1.info()["hits"] == hits + 20
