"""The read-path settings the README promises: missing rows, compression, autodiscovery, waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import django_distcache
from django_distcache.serializers import JSONSerializer
from django_distcache.stats import recorder
from tests.factories import ProductFactory
from tests.testapp.models import Product

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def _entry_keys(raw_redis, pk: int) -> list[bytes]:
    return [k for k in raw_redis.scan_iter(match="dctest:v1:obj:*") if k.endswith(b":%d" % pk)]


def test_missing_rows_are_not_cached_when_cache_missing_is_off(
    settings, raw_redis, django_assert_num_queries
):
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_MISSING": False}
    for _ in range(2):
        with django_assert_num_queries(1), pytest.raises(Product.DoesNotExist):
            django_distcache.get_object(Product, 404_404)
    assert _entry_keys(raw_redis, 404_404) == []
    assert django_distcache.get_objects(Product, [404_404]) == {}
    assert _entry_keys(raw_redis, 404_404) == []


def test_missing_rows_live_for_missing_timeout(settings, raw_redis):
    settings.DISTCACHE = {**settings.DISTCACHE, "MISSING_TIMEOUT": 30, "TIMEOUT_JITTER": 0}
    with pytest.raises(Product.DoesNotExist):
        django_distcache.get_object(Product, 404_405)
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    (missing,) = _entry_keys(raw_redis, 404_405)
    (found,) = _entry_keys(raw_redis, product.pk)
    assert 25_000 < raw_redis.pttl(missing) <= 30_000
    assert 590_000 < raw_redis.pttl(found) <= 600_000  # the model's own timeout


def _stored_value(raw_redis, name: str) -> bytes:
    (key,) = raw_redis.scan_iter(match=f"dctest:v1:key:get_or_set:{name}*")
    return raw_redis.get(key).split(b"|", 2)[2]


def test_values_from_compress_min_bytes_on_are_compressed(settings, raw_redis):
    settings.DISTCACHE = {**settings.DISTCACHE, "COMPRESS_MIN_BYTES": 1000}
    big, small = "x" * 1000, "x" * 900
    assert django_distcache.get_or_set("big", lambda: big) == big
    assert django_distcache.get_or_set("small", lambda: small) == small
    assert _stored_value(raw_redis, "big").startswith(b"Z")  # zlib
    assert len(_stored_value(raw_redis, "big")) < 100
    assert _stored_value(raw_redis, "small").startswith(b"J")  # plain JSON
    assert django_distcache.get_or_set("big", lambda: "not called") == big


def test_values_below_the_default_4_kib_are_not_compressed(raw_redis):
    django_distcache.get_or_set("below", lambda: "y" * 4000)
    django_distcache.get_or_set("above", lambda: "y" * 4100)
    assert _stored_value(raw_redis, "below").startswith(b"J")
    assert _stored_value(raw_redis, "above").startswith(b"Z")


REGISTERED = """
import django
django.setup()
from django_distcache import registry
from tests.testapp.models import Product
print(registry.find_config(Product) is not None)
"""


@pytest.mark.parametrize(("autodiscover", "registered"), [(True, "True"), (False, "False")])
def test_autodiscover_imports_each_apps_distcache_module(autodiscover, registered):
    result = subprocess.run(
        [sys.executable, "-c", REGISTERED],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DISTCACHE_TEST_OVERRIDES": json.dumps({"AUTODISCOVER": autodiscover}),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == registered


# A process that takes the lease on "held", says so, and loads until told to go on.
HOLDER = """
import sys, django
django.setup()
import django_distcache
def load():
    print("loading", flush=True)
    sys.stdin.readline()
    return "from the holder"
django_distcache.get_or_set("held", load)
"""


@pytest.fixture
def holder():
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            # only the reader's counts reach Redis
            "DISTCACHE_TEST_OVERRIDES": json.dumps({"STATS_ENABLED": False}),
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "loading"
        yield process
    finally:
        process.kill()
        process.communicate()


def _totals(namespace: str) -> dict[str, int]:
    """This process's counts, flushed and pending."""
    with recorder._flush_lock:  # no flush moves counts between the two meanwhile
        counts = dict(recorder.read_flushed()["counts"].get(namespace, {}))
        for (_kind, ns, event, *_rest), value in recorder.pending().items():
            if _kind == recorder.COUNT and ns == namespace:
                counts[event] = counts.get(event, 0) + int(value)
    return counts


def test_a_read_that_waits_for_another_process_counts_a_wait(settings, holder):
    settings.DISTCACHE = {**settings.DISTCACHE, "MAX_WAIT": 60}
    results = []
    reader = threading.Thread(
        target=lambda: results.append(django_distcache.get_or_set("held", lambda: "mine"))
    )
    reader.start()
    # the reader missed and found the lease held elsewhere: now it waits
    deadline = time.monotonic() + 30
    while _totals("get_or_set").get("misses") != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _totals("get_or_set").get("misses") == 1, "the reader never missed"
    holder.stdin.write("go\n")
    holder.stdin.flush()
    reader.join(timeout=60)
    assert results == ["from the holder"]
    counts = _totals("get_or_set")
    assert counts.get("waits") == 1
    assert "wait_timeouts" not in counts
    assert "loads" not in counts  # this process loaded nothing


def test_a_wait_past_max_wait_loads_itself_and_counts_a_timeout(settings, holder):
    settings.DISTCACHE = {**settings.DISTCACHE, "MAX_WAIT": 0.3}
    assert django_distcache.get_or_set("held", lambda: "mine") == "mine"
    counts = _totals("get_or_set")
    assert counts.get("wait_timeouts") == 1
    assert "waits" not in counts


def test_the_serializer_compresses_from_4_kib_by_default():
    codec = JSONSerializer()
    text = "z" * 4094  # with its two quotes: 4096 bytes of JSON
    assert codec.dumps(text).startswith(b"Z")
    assert codec.dumps(text[:-1]).startswith(b"J")
    assert codec.loads(codec.dumps(text)) == text
