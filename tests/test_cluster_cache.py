"""Django's cache API on Redis Cluster: the scenarios of Django's cache tests, on six nodes."""

from __future__ import annotations

import datetime
import pickle
import zlib
from collections.abc import Iterator

import pytest
import redis
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.http import HttpResponse
from django.middleware.cache import FetchFromCacheMiddleware, UpdateCacheMiddleware
from django.test import RequestFactory
from redis.cluster import RedisCluster

from django_distcache.redis.cluster import RedisClusterCache, RedisClusterClient
from django_distcache.redis.slots import keys_by_node
from tests.cluster import RedisClusterProcesses
from tests.testapp.models import Document

BACKEND = "django_distcache.redis.cluster.RedisClusterCache"
THIRTY_DAYS = 60 * 60 * 24 * 30


def custom_key_func(key: str, key_prefix: str, version: int) -> str:
    return "CUSTOM-" + "-".join([key_prefix, str(version), key])


def cluster_caches(location: str) -> dict:
    base = {"BACKEND": BACKEND, "LOCATION": location}
    return {
        "cluster": base,
        "cluster_prefix": {**base, "KEY_PREFIX": "cacheprefix"},
        "cluster_v2": {**base, "VERSION": 2},
        "cluster_custom_key": {**base, "KEY_FUNCTION": custom_key_func},
        "cluster_custom_key2": {
            **base,
            "KEY_FUNCTION": "tests.test_cluster_cache.custom_key_func",
        },
    }


@pytest.fixture
def cache(settings, redis_cluster: RedisClusterProcesses) -> Iterator[RedisClusterCache]:
    """The 'cluster' cache (and its prefixed, v2 and custom-key siblings), emptied after."""
    settings.CACHES = {**settings.CACHES, **cluster_caches(redis_cluster.location)}
    yield caches["cluster"]
    redis_cluster.flush()


def raw(cache: RedisClusterCache) -> RedisCluster:
    return cache.client.get_client()


# Picklable values of every kind, as in Django's own tests.
def answer() -> int:
    return 42


class Answerer:
    def answer(self) -> int:
        return 24


class Unpicklable:
    def __getstate__(self):
        raise pickle.PickleError("no")


def test_backend_is_a_django_redis_cache_on_a_cluster_client(cache):
    assert isinstance(cache.client, RedisClusterClient)
    assert isinstance(raw(cache), RedisCluster)
    assert len(raw(cache).get_primaries()) == 3


def test_set_and_get(cache):
    cache.set("key", "value")
    assert cache.get("key") == "value"


def test_none_is_a_value_not_a_miss(cache):
    cache.set("key_default_none", None)
    assert cache.get("key_default_none", default="default") is None
    assert cache.get("missing", "bang!") == "bang!"
    assert cache.get("missing") is None


def test_add_only_when_absent(cache):
    assert cache.add("addkey1", "value") is True
    assert cache.add("addkey1", "newvalue") is False
    assert cache.get("addkey1") == "value"


def test_key_prefix_separates_caches_sharing_the_cluster(cache):
    cache.set("somekey", "value")
    assert caches["cluster_prefix"].has_key("somekey") is False
    caches["cluster_prefix"].set("somekey", "value2")
    assert cache.get("somekey") == "value"
    assert caches["cluster_prefix"].get("somekey") == "value2"


def test_get_many_across_slots_and_nodes(cache):
    values = {f"key{i}": i for i in range(50)}
    cache.set_many(values)
    made = [cache.make_key(key) for key in values]
    assert len(keys_by_node(raw(cache), made)) == 3  # the keys live on every master
    assert cache.get_many(list(values)) == values
    assert cache.get_many(["key1", "key2", "nope"]) == {"key1": 1, "key2": 2}
    assert cache.get_many(iter(["key1", "nope"])) == {"key1": 1}
    assert cache.get_many([]) == {}
    cache.set_many({"x": None, "y": 1})
    assert cache.get_many(["x", "y"]) == {"x": None, "y": 1}


def test_delete(cache):
    cache.set_many({"key1": "spam", "key2": "eggs"})
    assert cache.delete("key1") is True
    assert cache.get("key1") is None
    assert cache.get("key2") == "eggs"
    assert cache.delete("nonexistent_key") is False


def test_has_key_and_in(cache):
    cache.set("hello1", "goodbye1")
    cache.set("no_expiry", "here", None)
    cache.set("null", None)
    assert cache.has_key("hello1") is True
    assert cache.has_key("goodbye1") is False
    assert cache.has_key("no_expiry") is True
    assert cache.has_key("null") is True
    assert "hello1" in cache
    assert "goodbye1" not in cache


def test_incr_and_decr(cache):
    cache.set("answer", 41)
    assert cache.incr("answer") == 42
    assert cache.get("answer") == 42
    assert cache.incr("answer", 10) == 52
    assert cache.incr("answer", -10) == 42
    assert cache.decr("answer") == 41
    assert cache.decr("answer", -1) == 42
    with pytest.raises(ValueError, match="not found"):
        cache.incr("does_not_exist")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("does_not_exist")


def test_incr_of_a_non_number_fails(cache):
    cache.set("null", None)
    with pytest.raises(TypeError):
        cache.incr("null")


def test_close_keeps_the_cache_usable(cache):
    cache.set("key", 1)
    cache.close()
    assert cache.get("key") == 1


@pytest.mark.parametrize(
    "value",
    [
        "this is a string",
        42,
        True,
        [1, 2, 3, 4],
        (1, 2, 3, 4),
        {"A": 1, "B": 2},
        answer,
        Answerer,
        "Iñtërnâtiônàlizætiøn",
        zlib.compress(b"value_to_be_compressed"),
    ],
)
def test_values_of_every_kind_round_trip(cache, value):
    cache.set("value", value)
    assert cache.get("value") == value
    assert cache.add("added", value) is True
    assert cache.get("added") == value
    cache.set_many({"many": value})
    assert cache.get("many") == value


@pytest.mark.django_db
def test_model_instances_and_deferred_querysets_round_trip(cache):
    document = Document.objects.create(title="Well?", published=datetime.date(2024, 5, 1))
    cache.set("document", document)
    cached = cache.get("document")
    assert (cached.pk, cached.title, cached.published) == (document.pk, "Well?", document.published)
    deferred = Document.objects.defer("title")
    cache.set("deferred", deferred)
    assert [d.pk for d in cache.get("deferred")] == [document.pk]


def test_unicode_keys(cache):
    cache.set("Iñtërnâtiônàlizætiøn", "value")
    assert cache.get("Iñtërnâtiônàlizætiøn") == "value"
    assert cache.delete("Iñtërnâtiônàlizætiøn") is True


def test_timeouts_set_the_key_ttl(cache):
    cache.set("default", 1)
    cache.set("short", 1, 10)
    cache.set("float", 1, 100.2)
    cache.set("long", 1, THIRTY_DAYS + 1)
    cache.set_many({"many1": 1, "many2": 2}, 10)
    assert 0 < cache.ttl("default") <= cache.default_timeout
    assert 0 < cache.ttl("short") <= 10
    assert 0 < cache.ttl("float") <= 101
    # Redis timeouts are relative, whatever their size (no memcached 30-day rule).
    assert THIRTY_DAYS - 60 < cache.ttl("long") <= THIRTY_DAYS + 1
    assert 0 < cache.ttl("many1") <= 10
    assert 0 < cache.ttl("many2") <= 10


def test_expired_key_is_gone(cache):
    cache.set("expire1", "very quickly", 0.05)
    cache.set_many({"expire2": 1}, 0.05)
    assert cache.get("expire1") == "very quickly"
    wait_until(lambda: not cache.has_key("expire1") and not cache.has_key("expire2"))
    assert cache.add("expire1", "newvalue") is True
    assert cache.get("expire1") == "newvalue"


def test_none_timeout_caches_forever(cache):
    cache.set("key1", "eggs", None)
    assert cache.add("key2", "ham", None) is True
    assert cache.add("key1", "new eggs", None) is False
    cache.set_many({"key3": "sausage"}, None)
    for key in ("key1", "key2", "key3"):
        assert cache.ttl(key) is None
    assert cache.get("key1") == "eggs"


def test_zero_timeout_caches_nothing(cache):
    cache.set("key1", "eggs", 0)
    assert cache.get("key1") is None
    assert cache.add("key2", "ham", 0) is True
    assert cache.get("key2") is None
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 0)
    assert cache.get_many(["key3", "key4"]) == {}


def test_touch(cache):
    cache.set("expire1", "very quickly", timeout=1)
    assert cache.touch("expire1", timeout=40) is True
    assert 1 < cache.ttl("expire1") <= 40
    assert cache.touch("expire1") is True
    assert cache.ttl("expire1") > 40
    assert cache.touch("expire1", timeout=None) is True
    assert cache.ttl("expire1") is None
    assert cache.touch("expire1", timeout=0) is True
    assert cache.get("expire1") is None
    assert cache.touch("nonexistent") is False


def test_set_many_returns_no_failed_keys(cache):
    assert cache.set_many({"key1": "spam", "key2": "eggs"}) in ([], None)
    assert cache.set_many({}) in ([], None)
    assert cache.get("key1") == "spam"


def test_delete_many(cache):
    cache.set_many({f"key{i}": i for i in range(30)})
    cache.delete_many([f"key{i}" for i in range(29)])
    assert cache.get_many([f"key{i}" for i in range(30)]) == {"key29": 29}
    assert not cache.delete_many([])


def test_clear_empties_this_cache_only(cache, redis_cluster):
    cache.set_many({f"key{i}": i for i in range(60)})
    cache.set("v2key", 1, version=2)
    caches["cluster_prefix"].set("kept", 1)
    raw(cache).set("another-application", 1)
    cache.clear()
    assert cache.get_many([f"key{i}" for i in range(60)]) == {}
    assert cache.get("v2key", version=2) is None
    assert caches["cluster_prefix"].get("kept") == 1
    assert raw(cache).get("another-application") == b"1"


def test_clear_with_a_custom_key_function(cache):
    custom = caches["cluster_custom_key"]
    custom.set("answer", 42)
    cache.set("answer", 1)
    custom.clear()
    assert custom.get("answer") is None
    assert cache.get("answer") == 1


def test_lock_is_exclusive(cache):
    first = cache.lock("resource", timeout=10)
    second = cache.lock("resource", timeout=10)
    assert first.acquire(blocking=False) is True
    assert second.acquire(blocking=False) is False
    first.release()
    assert second.acquire(blocking=False) is True
    second.release()


def test_keys_and_delete_pattern_see_every_node(cache):
    cache.set_many({f"user:{i}": i for i in range(40)})
    cache.set("other", 1)
    made = [cache.make_key(f"user:{i}") for i in range(40)]
    assert len(keys_by_node(raw(cache), made)) == 3
    assert sorted(cache.keys("user:*")) == sorted(f"user:{i}" for i in range(40))
    assert cache.delete_pattern("user:*") == 40
    assert cache.keys("*") == ["other"]


def test_versions_are_separate_entries(cache):
    v2 = caches["cluster_v2"]
    cache.set("answer1", 42)
    assert cache.get("answer1", version=1) == 42
    assert cache.get("answer1", version=2) is None
    assert v2.get("answer1") is None
    assert v2.get("answer1", version=1) == 42
    v2.set("answer2", 37)
    assert cache.get("answer2", version=2) == 37
    assert cache.has_key("answer2") is False
    assert v2.has_key("answer2") is True
    assert cache.add("answer3", 1, version=2) is True
    assert v2.add("answer3", 2) is False
    assert cache.add("answer3", 3) is True
    assert (cache.get("answer3"), v2.get("answer3")) == (3, 1)


def test_versioned_delete_incr_and_many(cache):
    v2 = caches["cluster_v2"]
    cache.set("answer", 37, version=1)
    cache.set("answer", 42, version=2)
    assert v2.incr("answer") == 43
    assert cache.decr("answer") == 36
    assert v2.delete("answer") is True
    assert cache.get("answer") == 36
    assert cache.get("answer", version=2) is None
    v2.set_many({"ford": 37, "arthur": 42}, version=1)
    assert cache.get_many(["ford", "arthur"]) == {"ford": 37, "arthur": 42}
    assert v2.get_many(["ford", "arthur"]) == {}


def test_incr_and_decr_version(cache):
    cache.set("answer", 42, version=2)
    assert cache.incr_version("answer", version=2) == 3
    assert cache.get("answer", version=2) is None
    assert cache.get("answer", version=3) == 42
    assert cache.decr_version("answer", version=3) == 2
    assert cache.get("answer", version=2) == 42
    with pytest.raises(ValueError, match="not found"):
        cache.incr_version("does_not_exist")


def test_custom_key_functions(cache):
    cache.set("answer1", 42)
    assert caches["cluster_custom_key"].get("answer1") is None
    caches["cluster_custom_key"].set("answer2", 42)
    assert cache.get("answer2") is None
    assert caches["cluster_custom_key2"].get("answer2") == 42


def test_unpicklable_value_raises(cache):
    with pytest.raises(pickle.PickleError):
        cache.set("unpicklable", Unpicklable())
    with pytest.raises(pickle.PickleError):
        cache.add("unpicklable", Unpicklable())


def test_get_or_set(cache):
    assert cache.get_or_set("projector", 42) == 42
    assert cache.get_or_set("projector", 1) == 42
    assert cache.get_or_set("null", None) is None
    assert cache.get_or_set("callable", lambda: "value") == "value"
    assert cache.get_or_set("brian", 1979, version=2) == 1979
    assert cache.get("brian", version=1) is None


def test_async_api(cache):
    async def scenario():
        await cache.aset("key", "value")
        await cache.aset_many({"a": 1, "b": 2})
        return await cache.aget("key"), await cache.aget_many(["a", "b", "c"])

    assert async_to_sync(scenario)() == ("value", {"a": 1, "b": 2})


def test_cache_middleware_stores_responses_on_the_cluster(cache, settings):
    settings.CACHE_MIDDLEWARE_ALIAS = "cluster"
    request = RequestFactory().get("/cache/test")

    def view(request):
        response = HttpResponse("Testing cookie serialization.")
        response.set_cookie("foo", "bar")
        return response

    assert FetchFromCacheMiddleware(view).process_request(request) is None
    response = UpdateCacheMiddleware(view)(request)
    cached = FetchFromCacheMiddleware(view).process_request(request)
    assert cached is not None
    assert cached.content == b"Testing cookie serialization."
    assert cached.cookies == response.cookies


def test_sessions_on_the_cluster(cache, settings):
    from importlib import import_module

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "cluster"
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["user"] = "ada"
    store.save()
    loaded = import_module(settings.SESSION_ENGINE).SessionStore(session_key=store.session_key)
    assert loaded["user"] == "ada"


def test_a_location_of_several_nodes_is_one_cluster(cache, redis_cluster):
    # Any node can be the first: the others are startup nodes too, not replicas.
    nodes = redis_cluster.location.split(",")
    caches["cluster"].set("everywhere", 1)
    reversed_location = ",".join(reversed(nodes))
    assert RedisClusterCache(reversed_location, {}).get("everywhere") == 1


def test_unreachable_cluster_is_a_redis_connection_error(settings):
    from tests.cluster import free_port

    url = f"redis://127.0.0.1:{free_port()}"
    settings.CACHES = {
        **settings.CACHES,
        "nowhere": {"BACKEND": BACKEND, "LOCATION": url},
    }
    with pytest.raises(redis.ConnectionError):
        caches["nowhere"].get("key")


def wait_until(condition, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
