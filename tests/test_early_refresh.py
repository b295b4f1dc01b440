"""Early refresh (XFetch) and sliding expiration, decided in the read's one round trip."""

from __future__ import annotations

import threading
import time

import pytest

import django_distcache
from django_distcache.redis.client import get_redis
from django_distcache.registry import get_config
from tests.entries import data, fn_entry, redis_now_ms, rewrite, times
from tests.testapp.models import Category
from tests.threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]

ALWAYS_EARLY = 1e9  # beta so high that any entry with a measured load is refreshed early


def slow(value: str, seconds: float = 0.05):
    def load():
        time.sleep(seconds)  # the load's cost, recorded in the entry
        return value

    return load


def test_an_entry_carries_its_expiry_and_load_time():
    before = redis_now_ms()
    django_distcache.get_or_set("timed", slow("v"), timeout=100)
    expires, delta, limit = times(fn_entry("timed"))
    assert before + 90_000 <= expires <= redis_now_ms() + 100_000  # timeout less jitter
    assert 50 <= delta < 5_000
    assert limit == 0  # not sliding
    assert 90_000 <= get_redis().pttl(fn_entry("timed")) <= 100_000


def test_an_entry_without_timeout_never_goes_stale():
    django_distcache.get_or_set("forever", lambda: "v", timeout=None)
    assert times(fn_entry("forever"))[0] == 0
    assert get_redis().pttl(fn_entry("forever")) == -1


def test_early_refresh_reloads_a_hit_before_it_expires(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "EARLY_REFRESH_BETA": ALWAYS_EARLY}
    assert django_distcache.get_or_set("early", slow("v1")) == "v1"
    first_expiry = times(fn_entry("early"))[0]
    assert django_distcache.get_or_set("early", slow("v2")) == "v2"
    assert data(fn_entry("early")) == b'J"v2"'
    assert times(fn_entry("early"))[0] >= first_expiry - 30_000  # stored anew, full timeout


def test_early_refresh_off_keeps_the_entry_until_it_expires(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "EARLY_REFRESH_BETA": 0}
    assert django_distcache.get_or_set("kept", slow("v1")) == "v1"
    assert django_distcache.get_or_set("kept", slow("v2")) == "v1"


def test_a_young_entry_is_not_refreshed_with_the_default_beta():
    loads = []
    django_distcache.get_or_set("young", slow("v1"))
    for _ in range(200):
        assert django_distcache.get_or_set("young", lambda: loads.append(1) or "v2") == "v1"
    assert loads == []  # 300 s left against a 50 ms load: no early draw gets there


def test_early_refresh_takes_the_lease_so_others_keep_the_current_value(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "EARLY_REFRESH_BETA": ALWAYS_EARLY}
    django_distcache.get_or_set("hot", slow("v1"))
    loading, release, results = threading.Event(), threading.Event(), []

    def refreshing_load():
        loading.set()
        assert release.wait(20)
        return "v2"

    refresher = in_thread(
        lambda: results.append(django_distcache.get_or_set("hot", refreshing_load))
    )
    assert loading.wait(20)
    other_loads = []
    for _ in range(5):  # the lease is held: each read is a hit at once, no load
        got = django_distcache.get_or_set("hot", lambda: other_loads.append(1) or "v3")
        assert got == "v1"
    assert other_loads == []
    release.set()
    refresher.join(20)
    assert results == ["v2"]
    assert data(fn_entry("hot")) == b'J"v2"'


def test_early_refresh_of_an_object_reloads_the_row(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "EARLY_REFRESH_BETA": ALWAYS_EARLY}
    django_distcache.register(Category)
    category = Category.objects.create(name="before")
    django_distcache.get_object(Category, category.pk)
    Category.objects.filter(pk=category.pk).update(name="after")  # invalidates: a miss
    assert django_distcache.get_object(Category, category.pk).name == "after"
    key = get_config(Category).object_base(category.pk)
    rewrite(key, expires=redis_now_ms() + 60_000)  # an ordinary hit, refreshed early
    assert django_distcache.get_object(Category, category.pk).name == "after"
    assert times(key)[0] > redis_now_ms() + 200_000


def test_sliding_pushes_the_expiry_back_on_a_read():
    django_distcache.get_or_set("slide", lambda: "v", timeout=100, sliding=True)
    key = fn_entry("slide")
    rewrite(key, expires=redis_now_ms() + 1_000)  # as if 99 s had passed
    assert django_distcache.get_or_set("slide", lambda: "o", timeout=100, sliding=True) == "v"
    assert times(key)[0] >= redis_now_ms() + 99_000
    assert get_redis().pttl(key) > 99_000


def test_without_sliding_a_read_leaves_the_expiry_alone():
    django_distcache.get_or_set("fixed", lambda: "v", timeout=100)
    key = fn_entry("fixed")
    soon = redis_now_ms() + 1_000
    rewrite(key, expires=soon)
    assert django_distcache.get_or_set("fixed", lambda: "other", timeout=100) == "v"
    assert times(key)[0] == soon


def test_sliding_never_keeps_an_entry_past_its_max_age(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "SLIDING_MAX_AGE": 50}
    django_distcache.get_or_set("aged", lambda: "v1", timeout=100, sliding=True)
    key = fn_entry("aged")
    now = redis_now_ms()
    expires, _, limit = times(key)
    assert limit - 1_000 <= expires <= limit <= redis_now_ms() + 50_000  # capped at load
    rewrite(key, expires=now + 1_000, limit=now + 3_000)  # 47 s after its load
    django_distcache.get_or_set("aged", lambda: "v2", timeout=100, sliding=True)
    assert times(key)[0] == now + 3_000  # slid only up to the limit
    assert get_redis().pttl(key) <= 3_000
    rewrite(key, expires=now - 1)  # the limit passed: a miss, loaded anew
    assert django_distcache.get_or_set("aged", lambda: "v2", timeout=100, sliding=True) == "v2"


def test_sliding_writes_at_most_once_per_tenth_of_the_timeout(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "TIMEOUT_JITTER": 0}
    django_distcache.get_or_set("calm", lambda: "v", timeout=100, sliding=True)
    key = fn_entry("calm")
    expires = times(key)[0]
    for _ in range(20):  # reads within 10 s of the load do not rewrite the entry
        django_distcache.get_or_set("calm", lambda: "other", timeout=100, sliding=True)
    assert times(key)[0] == expires


def test_sliding_setting_applies_to_every_entry(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "SLIDING": True}
    django_distcache.register(Category, timeout=100)
    category = Category.objects.create(name="c")
    django_distcache.get_object(Category, category.pk)
    key = get_config(Category).object_base(category.pk)
    rewrite(key, expires=redis_now_ms() + 1_000)
    django_distcache.get_object(Category, category.pk)
    assert times(key)[0] >= redis_now_ms() + 99_000


@pytest.mark.parametrize("options", [{}, {"stale_while_revalidate": 30, "sliding": True}])
def test_a_hit_is_one_round_trip(round_trips, options):
    django_distcache.get_or_set("rt", lambda: "v", **options)
    django_distcache.register(Category, **options)
    category = Category.objects.create(name="c")
    django_distcache.get_object(Category, category.pk)
    round_trips.reset()
    assert django_distcache.get_or_set("rt", lambda: "other", **options) == "v"
    assert round_trips.count == 1
    round_trips.reset()
    assert django_distcache.get_object(Category, category.pk).name == "c"
    assert round_trips.count == 1
