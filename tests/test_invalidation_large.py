"""An invalidation of thousands of rows goes to Redis in several bounded calls."""

from __future__ import annotations

import pytest
import redis

import django_distcache
from django_distcache.outbox.apply import MOST_ENTRIES_PER_CALL
from tests.test_outages import app_on
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def evalsha_calls(admin: redis.Redis) -> int:
    return int(admin.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def test_an_update_of_thousands_of_cached_rows_is_applied_in_bounded_calls(redis_process):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url):
        rows = Category.objects.bulk_create(Category(name=f"c{i}-v0") for i in range(2500))
        pks = [row.pk for row in rows]
        assert len(django_distcache.get_objects(Category, pks)) == 2500
        before = evalsha_calls(admin)
        Category.objects.filter(pk__in=pks).update(name="changed")
        # 2,500 rows, each under two database aliases: 5,000 entries, 1,000 per call.
        assert evalsha_calls(admin) - before == 5000 // MOST_ENTRIES_PER_CALL
        fresh = django_distcache.get_objects(Category, pks)
        assert {row.name for row in fresh.values()} == {"changed"}
