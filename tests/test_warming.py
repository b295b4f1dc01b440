"""Cache warming: registered warmers, run results, hot-key warming, the Celery task."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

import django_distcache
from django_distcache import hotkeys, tasks
from django_distcache.invalidation import invalidate_objects
from django_distcache.warming import recent_runs, warm, warmer_names
from django_distcache.warming.registry import UnknownWarmer
from tests.factories import CategoryFactory, ProductFactory
from tests.testapp.models import Category, Product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_earlier_reads():
    """Reads counted by earlier tests in this process do not count here."""
    hotkeys.reset_local()


def test_warmers_are_registered_from_distcache_modules():
    assert {"products", "categories", "hot_objects"} <= set(warmer_names())


@override_settings(
    DISTCACHE={"KEY_PREFIX": "dctest", "WARMERS": {"more": "tests.testapp.distcache.products"}}
)
def test_warmers_from_settings():
    assert "more" in warmer_names()
    ProductFactory()
    [result] = warm(["more"])
    assert result["entries"] == 1


def test_warm_stores_entries_in_batches(django_assert_num_queries):
    products = ProductFactory.create_batch(5)
    categories = Category.objects.all()
    with override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WARM_BATCH_SIZE": 2}):
        results = warm(["products", "categories"])
    assert [r["entries"] for r in results] == [5, len(categories)]
    with django_assert_num_queries(0):
        for product in products:
            django_distcache.get_object(Product, product.pk)
        for category in categories:
            django_distcache.get_object(Category, category.pk)


def test_warm_lays_buffered_writes_over_the_rows(django_assert_num_queries):
    product = ProductFactory(stock=1)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    warm(["products"])
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, product.pk).stock == 5


def test_runs_are_recorded_newest_first_and_bounded():
    with override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WARM_HISTORY": 3}):
        for _ in range(4):
            warm(["categories"])
        warm(["broken"])
        runs = recent_runs(10)
    assert len(runs) == 3
    latest = runs[0]
    assert latest["name"] == "broken"
    assert latest["errors"] == ["RuntimeError: the warmer's query failed"]
    assert set(latest) == {"name", "started_at", "duration", "entries", "errors"}
    assert runs[1]["name"] == "categories"


def test_unknown_warmer_fails_before_any_work():
    with pytest.raises(UnknownWarmer, match="nope"):
        warm(["categories", "nope"])
    assert recent_runs() == []


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "HOT_KEYS_SIZE": 2})
def test_hot_keys_are_bounded_and_warmed_before_they_expire(django_assert_num_queries):
    hot, warm_, cold = ProductFactory.create_batch(3)
    for product, reads in ((hot, 5), (warm_, 3), (cold, 1)):
        for _ in range(reads):
            django_distcache.get_object(Product, product.pk)
    hotkeys.flush()
    assert [pk for pk, _ in hotkeys.hottest("testapp.product")] == [str(hot.pk), str(warm_.pk)]
    invalidate_objects(Product, [hot.pk, warm_.pk, cold.pk])
    [result] = warm(["hot_objects"])
    assert result["entries"] >= 2
    with django_assert_num_queries(0):
        django_distcache.get_object(Product, hot.pk)
        django_distcache.get_object(Product, warm_.pk)
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, cold.pk)


def test_refresh_loses_to_an_invalidation_that_lands_while_it_reads():
    from django_distcache.outbox.keys import with_epoch
    from django_distcache.reads import readthrough
    from django_distcache.registry import get_config
    from django_distcache.warming.objects import warm_lease

    category = CategoryFactory(name="before")
    config = get_config(Category)
    base = config.object_base(category.pk)
    generations = warm_lease(with_epoch(config.generation_keys), [base], "tok")
    # A write commits (and invalidates) after the refresh read the old row.
    Category.objects.filter(pk=category.pk).update(name="after")
    invalidate_objects(Category, [category.pk])
    stale = readthrough.serializer().dumps([category.pk, "before"])
    items = [(base, "tok", stale, 60_000)]
    assert readthrough.store(config.generation_keys, generations, items) == 0
    assert django_distcache.get_object(Category, category.pk).name == "after"


def test_warm_task_on_a_worker_reports_progress(start_worker):
    start_worker("warmer")
    ProductFactory.create_batch(3)
    result = tasks.warm_cache.apply_async(args=[["slow", "products"]], queue="distcache")
    states = set()
    deadline = time.monotonic() + 30
    while not result.ready() and time.monotonic() < deadline:
        states.add(result.state)
        time.sleep(0.05)
    assert "PROGRESS" in states
    runs = result.get(timeout=30)
    assert [r["name"] for r in runs] == ["slow", "products"]
    assert runs[1]["entries"] == 3
    assert [r["name"] for r in recent_runs(2)] == ["products", "slow"]


def test_get_objects_reads_count_as_hot():
    products = ProductFactory.create_batch(2)
    for _ in range(3):
        django_distcache.get_objects(Product, [products[1].pk])
    django_distcache.get_object(Product, products[0].pk)
    hotkeys.flush()
    hottest = hotkeys.hottest("testapp.product")
    assert hottest == [(str(products[1].pk), 3.0), (str(products[0].pk), 1.0)]


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WARM_BATCH_SIZE": 2})
def test_progress_is_reported_per_chunk():
    ProductFactory.create_batch(5)
    reports = []
    warm(["products"], progress=lambda *report: reports.append(report))
    assert reports == [
        (0, 1, "products", 0),
        (0, 1, "products", 2),
        (0, 1, "products", 4),
        (0, 1, "products", 5),
        (1, 1, "", 5),
    ]


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "HOT_KEYS_HALF_LIFE": 0.2})
def test_hot_key_counts_decay_so_a_newly_hot_row_overtakes_an_old_one():
    old, new = ProductFactory.create_batch(2)
    for _ in range(8):
        django_distcache.get_object(Product, old.pk)
    hotkeys.flush()
    started = time.monotonic()
    while time.monotonic() - started < 1.0:  # five half-lives
        time.sleep(0.05)
    for _ in range(3):
        django_distcache.get_object(Product, new.pk)
    hotkeys.flush()
    [(first, first_count), (second, second_count)] = hotkeys.hottest("testapp.product")
    assert (first, second) == (str(new.pk), str(old.pk))
    assert first_count == 3.0
    assert second_count < 8 / 16
