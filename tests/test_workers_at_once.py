"""Two Celery workers flushing write-behind and warming at once: the work is split between
them, nothing is lost and nothing is done twice."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from celery.result import AsyncResult

import django_distcache
from django_distcache import keys
from django_distcache.management.commands.distcache_warm import queue_warm_cache
from django_distcache.redis.client import get_redis
from django_distcache.writebehind import backlog
from tests.factories import ProductFactory
from tests.test_tasks import FAST, queue_flush, stocks
from tests.test_warming_workers import CHUNK, cached_products
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS = {**FAST, **CHUNK}
ROUNDS = 8


def test_two_workers_flush_and_warm_at_once_and_split_the_work(start_worker, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, **SETTINGS}
    products = ProductFactory.create_batch(95, stock=0)
    pks = [product.pk for product in products]
    get_redis().delete(*get_redis().keys(f"{keys.object_prefix(Product)}*") or ["-"])
    start_worker("first", SETTINGS)
    start_worker("second", SETTINGS)
    rng = random.Random(12)
    expected: Counter[int] = Counter()
    flushes: list[AsyncResult] = []
    warm_runs: list[list[AsyncResult]] = []
    for _ in range(ROUNDS):
        for _ in range(150):
            pk = rng.choice(pks)
            django_distcache.write_behind_incr(Product, pk, "stock")
            expected[pk] += 1
        # Both kinds of work queued together: each worker takes whatever comes next.
        warm_runs.append([AsyncResult(i) for i in queue_warm_cache(["products"], parts=2)])
        flushes += [queue_flush(), queue_flush()]
    flushes += [queue_flush(), queue_flush()]

    rows_by_worker: Counter[str] = Counter()
    for result in flushes:
        rows = result.get(timeout=120)["rows"]
        rows_by_worker[result.worker] += rows  # named once the result is in
    parts_by_worker: Counter[str] = Counter()
    warmed = 0
    for run in warm_runs:
        parts = [part for result in run for part in result.get(timeout=120)]
        # Each run's two parts share its chunks, each object warmed at most once between
        # them (one that a flush invalidated while its row was read is not stored).
        assert sorted(part["part"] for part in parts) == ["1/2", "2/2"]
        stored = sum(part["entries"] for part in parts)
        assert 0 < stored <= len(products)
        warmed += stored
        parts_by_worker.update(part["worker"] for part in parts)

    # Nothing lost, nothing applied twice, nothing left behind.
    assert stocks(pks) == {pk: expected[pk] for pk in pks}
    assert backlog() == []
    # What the warm runs stored shows the flushed writes: none stored a row older than a
    # flush that came after its read (the entries left in Redis are read as they are).
    entries_left = cached_products()
    for pk in pks:
        assert django_distcache.get_object(Product, pk).stock == expected[pk]
    # The work was split: both workers flushed rows and warmed parts.
    print(
        f"rows flushed per worker: {dict(rows_by_worker)}; warm parts per worker: "
        f"{dict(parts_by_worker)}; entries warmed: {warmed} in {ROUNDS} runs of "
        f"{len(products)} objects; entries in Redis before the reads: {len(entries_left)}"
    )
    assert len(rows_by_worker) == 2, rows_by_worker
    assert all(rows_by_worker.values()), rows_by_worker
    assert len(parts_by_worker) == 2, parts_by_worker
