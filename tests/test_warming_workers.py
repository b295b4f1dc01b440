"""A warm run split across several Celery workers: every chunk warmed once, by one of them."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult
from django.core.management import call_command
from django.core.management.base import CommandError

import django_distcache
from django_distcache import keys
from django_distcache.beat import beat_schedule
from django_distcache.management.commands.distcache_warm import queue_warm_cache
from django_distcache.redis.client import get_redis
from django_distcache.warming import warm
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = {"WARM_BATCH_SIZE": 10}


def cached_products() -> set[int]:
    """The products that have an entry in Redis, read without going through the cache."""
    prefix = keys.object_prefix(Product)
    found = set()
    for key in get_redis().scan_iter(match=f"{prefix}*"):
        tail = key.decode().rpartition(":")[2]
        if tail.isdigit():
            found.add(int(tail))
    return found


def test_two_workers_share_a_split_warm_run_and_warm_each_object_once(start_worker):
    products = ProductFactory.create_batch(95)
    django_distcache.invalidate(Product)
    get_redis().delete(*get_redis().keys(f"{keys.object_prefix(Product)}*") or ["-"])
    start_worker("warm-a", CHUNK)
    start_worker("warm-b", CHUNK)
    ids = queue_warm_cache(["products"], parts=2)
    results = [AsyncResult(task_id).get(timeout=60) for task_id in ids]
    parts = [result for [result] in results]
    assert sorted(part["part"] for part in parts) == ["1/2", "2/2"]
    # 10 chunks of 10 (the last of 5): 5 chunks each, 50 and 45 objects
    assert sorted(part["entries"] for part in parts) == [45, 50]
    assert sum(part["entries"] for part in parts) == len(products)
    assert len({part["worker"] for part in parts}) == 2, parts  # each worker took a part
    assert cached_products() == {product.pk for product in products}


def test_parts_of_a_run_are_disjoint_and_cover_every_chunk(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, **CHUNK}
    ProductFactory.create_batch(35)
    shares = [warm(["products"], part=(index, 3))[0]["entries"] for index in range(3)]
    assert shares == [10, 15, 10] or sorted(shares) == [10, 10, 15]
    assert sum(shares) == 35


def test_bad_parts_are_refused():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("distcache_warm", "products", "--async", "--parts", "0")
    with pytest.raises(CommandError, match="with --async"):
        call_command("distcache_warm", "products", "--parts", "2")
    with pytest.raises(ValueError, match="no part 3 of 2"):
        warm(["products"], part=(2, 2))
    with pytest.raises(ValueError, match="at least 1"):
        beat_schedule(warm_every=60, warm_parts=0)


def test_beat_schedule_splits_warming_into_parts():
    schedule = beat_schedule(warm_every=60, warm_parts=2)
    entries = [schedule["distcache-warm-cache-1of2"], schedule["distcache-warm-cache-2of2"]]
    assert [entry["kwargs"] for entry in entries] == [
        {"part": 0, "parts": 2},
        {"part": 1, "parts": 2},
    ]
    assert "kwargs" not in beat_schedule(warm_every=60)["distcache-warm-cache"]
