"""The read path under odd input and a Redis that restarted: it never raises, never mixes keys."""

import logging
import string

import pytest
import redis
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

import django_distcache
from django_distcache import keys, stats
from django_distcache.reads.functions import CachedFunction
from django_distcache.redis import breaker
from django_distcache.redis.client import get_redis
from django_distcache.registry import get_config
from tests.cache_override import cache_on
from tests.factories import ProductFactory
from tests.testapp.models import Document, Product

pytestmark = pytest.mark.django_db(transaction=True)


def entry_of(name: str) -> str:
    return keys.entry_base("key", "get_or_set", name)


@pytest.mark.parametrize("stored", [b"J{not json", b"\x80\x04pickled", b'J"one"extra'])
def test_a_corrupt_or_foreign_entry_is_a_counted_miss(stored, caplog):
    assert django_distcache.get_or_set("odd", lambda: "first") == "first"
    key = entry_of("odd")
    head = b"|".join(get_redis().get(key).split(b"|", 2)[:2])  # generations and times
    get_redis().set(key, head + b"|" + stored)  # still "current", but unreadable
    stats.reset_local()
    with caplog.at_level(logging.WARNING, logger="django_distcache"):
        assert django_distcache.get_or_set("odd", lambda: "loaded") == "loaded"
    assert stats.local_counts()[("get_or_set", "misses")] == 1
    assert len(caplog.records) == 1
    assert "unreadable entry" in caplog.records[0].getMessage()
    assert django_distcache.get_or_set("odd", lambda: "again") == "again"  # stored anew
    assert django_distcache.get_or_set("odd", lambda: "third") == "again"


def test_a_corrupt_object_entry_is_a_miss_for_get_object_and_get_objects():
    product = ProductFactory(name="real")
    django_distcache.get_object(Product, product.pk)
    key = get_config(Product).object_base(product.pk)
    head = b"|".join(get_redis().get(key).split(b"|", 2)[:2])  # generations and times
    get_redis().set(key, head + b"|J[1]")  # a row of the wrong shape
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].name == "real"
    get_redis().set(key, head + b"|J[1]")
    assert django_distcache.get_object(Product, product.pk).name == "real"


def test_an_entry_named_like_a_lease_is_not_another_entrys_lease(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "MAX_WAIT": 2, "LEASE_TIMEOUT": 30}
    assert django_distcache.get_or_set("x:lease", lambda: "entry") == "entry"
    calls = []
    assert django_distcache.get_or_set("x", lambda: calls.append(1) or "x") == "x"
    assert django_distcache.get_or_set("x", lambda: calls.append(1) or "y") == "x"
    assert calls == [1]  # stored at once: no lease of "x" was found to wait for


OTHER_FAMILIES = ("gen", "stats", "hot", "wb", "warm")
TEXT = st.text(alphabet=string.printable + "!#:|é\x00", max_size=300)


def object_key(model, pk) -> str | None:
    """The key of ``model``'s row ``pk``, or None when the pk field refuses that spelling
    (then it spells no key at all)."""
    try:
        return get_config(model).object_base(pk)
    except ValidationError:
        return None


@settings(max_examples=300, deadline=None)
@given(
    first=TEXT | st.integers() | st.uuids(),
    second=TEXT | st.integers() | st.uuids(),
    name=TEXT,
)
def test_no_pk_or_argument_spells_another_key(first, second, name):
    cached = CachedFunction(lambda *args: None, None, (), ())
    objects = {object_key(model, pk) for model in (Product, Document) for pk in (first, second)}
    entries = objects - {None} | {
        entry_of(str(first)),
        entry_of(name),
        cached.base((first, second), {}),
        cached.base((name,), {}),
    }
    leases = {keys.lease_key(entry) for entry in entries}
    prefix = keys.prefix()
    for entry in entries:
        assert entry not in leases
        assert entry.startswith(f"{prefix}:v1:")
        assert not any(entry.startswith(f"{prefix}:{family}:") for family in OTHER_FAMILIES)
    assert len(leases) == len(entries)
    assert keys.generation_key(name) not in entries | leases
    for suffix in (":lease", "!lease", keys.LEASE_SUFFIX):
        # the pk or argument that would spell the lease of another entry
        assert entry_of(f"{name}{suffix}") != keys.lease_key(entry_of(name))
        for model in (Product, Document):
            row = object_key(model, first)
            if row is not None:
                assert object_key(model, f"{first}{suffix}") != keys.lease_key(row)
        assert cached.base((f"{name}{suffix}",), {}) not in leases


def test_first_read_after_redis_restarted_neither_raises_nor_trips_the_breaker(
    redis_process, settings
):
    # No statistics: their flusher thread could meet the server while it is stopped and
    # open the breaker (rightly), which is not what this test is about.
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    server = redis_process()
    with cache_on(server.url):
        assert django_distcache.get_or_set("k", lambda: 1) == 1
        server.stop()
        server.start()  # the same port, empty, the scripts gone
        assert django_distcache.get_or_set("k", lambda: 2) == 2
        assert django_distcache.get_or_set("k", lambda: 3) == 2  # a hit: Redis in use again
    breaker.reset()


def test_first_read_after_redis_closed_an_idle_connection_is_a_hit(redis_process):
    server = redis_process()
    with cache_on(server.url):
        assert django_distcache.get_or_set("k", lambda: 1) == 1
        with redis.Redis(port=server.port) as admin:
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
        assert django_distcache.get_or_set("k", lambda: 2) == 1
    breaker.reset()
