"""Shared fixtures: a clean Redis test database, private redis-server processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db.models import signals as model_signals
from django.dispatch import Signal
from django_redis.pool import ConnectionFactory

from django_distcache import hotkeys, registry, stats
from django_distcache import signals as distcache_signals
from django_distcache.invalidation import capture
from django_distcache.redis import breaker, client
from tests import roundtrips
from tests.celery_app import app as celery_app  # noqa: F401  (the current Celery app)
from tests.cluster import (  # noqa: F401  (the session's Redis Cluster, and clusters of one test)
    app_cache,
    app_on_cluster,
    cluster_without_replicas,
    failover_cluster,
    redis_cluster,
)
from tests.redis_servers import RedisServer, RedisServerMissing


@pytest.fixture(scope="session", autouse=True)
def redis_db_to_ourselves() -> Iterator[None]:
    """Stop at once if another test run uses the same Redis db index: each test empties
    it, so the two runs would delete each other's buffered writes, dead letters and
    entries mid-test. The run's connection keeps a name while the run lasts (a run
    that dies drops it with its connection)."""
    name = f"distcache-tests-db{settings.REDIS_DB}"
    connection = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_DB}", client_name=name)
    mine = connection.client_id()
    # Of two runs started at once, the later connection is the one that stops.
    others = [c for c in connection.client_list() if c["name"] == name and int(c["id"]) < mine]
    if others:
        connection.close()
        pytest.exit(
            f"another test run uses {settings.REDIS_URL}/{settings.REDIS_DB} (from "
            f"{others[0]['addr']}); give this one its own DISTCACHE_TEST_REDIS_URL or "
            "DISTCACHE_TEST_REDIS_DB (and DISTCACHE_TEST_CELERY_DB)",
            returncode=3,
        )
    yield
    connection.close()


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[redis.Redis]:
    """Each test starts with an empty Redis test database (its own db index)."""
    connection = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_DB}")
    # First: it waits for a statistics flush under way, which would land after flushdb.
    stats.reset_local()
    hotkeys.reset_local()  # reads counted by an earlier test must not reach this one's Redis
    connection.flushdb()
    client.reset()
    breaker.reset()
    yield connection
    connection.close()


_SIGNALS = [
    value
    for module in (model_signals, distcache_signals)
    for value in vars(module).values()
    if isinstance(value, Signal)
]


@pytest.fixture(autouse=True)
def registrations_restored() -> Iterator[None]:
    """Models registered and receivers connected by a test are gone after it."""
    configs, tracked = dict(registry._configs), set(registry._tracked)
    receivers = {signal: list(signal.receivers) for signal in _SIGNALS}
    yield
    registry._configs.clear()
    registry._configs.update(configs)
    registry._proxy_configs.clear()  # derived from the test's registrations
    registry._tracked.clear()
    registry._tracked.update(tracked)
    capture.forget_plans()  # so are the write plans
    for signal, saved in receivers.items():
        with signal.lock:
            signal.receivers[:] = saved
            signal.sender_receivers_cache.clear()


def on_cluster(request: pytest.FixtureRequest) -> bool:
    """Whether this test runs with the app's cache on the Redis Cluster (``app_cache``)."""
    return "app_cache" in request.fixturenames and request.getfixturevalue("app_cache") == "cluster"


@pytest.fixture
def one_redis(request: pytest.FixtureRequest) -> None:
    """Skip the cluster's run of a test about one Redis (its own servers, connections or
    round trips)."""
    if on_cluster(request):
        pytest.skip("a test of one Redis")


@pytest.fixture
def raw_redis(request: pytest.FixtureRequest, clean_redis: redis.Redis) -> Iterator[Any]:
    """A plain client of the Redis holding the app's entries (the cluster's, on it)."""
    if not on_cluster(request):
        yield clean_redis
        return
    cluster = redis.RedisCluster.from_url(request.getfixturevalue("redis_cluster").url)
    yield cluster
    cluster.close()


class RoundTripCounter:
    def __init__(self) -> None:
        self.start = roundtrips.sent

    @property
    def count(self) -> int:
        return roundtrips.sent - self.start

    def reset(self) -> None:
        self.start = roundtrips.sent


@pytest.fixture
def round_trips(request: pytest.FixtureRequest, settings) -> Iterator[RoundTripCounter]:
    """Counts the requests the app sends to Redis (a pipeline is one)."""
    if on_cluster(request):
        pytest.skip("counts one Redis's round trips (test_cluster_app counts a cluster's)")
    # django-redis keeps one pool per URL for the whole process; this test gets its own.
    url = settings.CACHES["default"]["LOCATION"]
    saved_pool = ConnectionFactory._pools.pop(url, None)
    caches = {**settings.CACHES}
    caches["default"] = {
        **caches["default"],
        "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": roundtrips.CountingConnection}},
    }
    settings.CACHES = caches
    # Statistics reach Redis from a background thread every few seconds, in batches:
    # not a round trip of the read being counted.
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    yield RoundTripCounter()
    counting_pool = ConnectionFactory._pools.pop(url, None)
    if counting_pool is not None:
        counting_pool.disconnect()
    if saved_pool is not None:
        ConnectionFactory._pools[url] = saved_pool


@pytest.fixture
def requests_counted(request: pytest.FixtureRequest, settings) -> Iterator[RoundTripCounter]:
    """``round_trips``, also on the cluster's run of a test (``app_cache``): there it counts
    the requests sent to the cluster's nodes (one per node a call asks)."""
    if not on_cluster(request):
        yield request.getfixturevalue("round_trips")
        return
    from django_distcache.redis import client

    app_on_cluster(
        settings,
        request.getfixturevalue("redis_cluster"),
        CONNECTION_POOL_KWARGS={"connection_class": roundtrips.CountingConnection},
    )
    settings.DISTCACHE = {**settings.DISTCACHE, "STATS_ENABLED": False}
    yield RoundTripCounter()
    client.reset()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[object]:
    """A factory of private redis-server processes (RedisServer), stopped after the test."""
    started: list[RedisServer] = []

    def start(*extra: str) -> RedisServer:
        try:
            server = RedisServer(tmp_path, *extra)
        except RedisServerMissing as missing:
            pytest.skip(str(missing))
        started.append(server)  # stopped after the test even if it never answers
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def celery_broker() -> Iterator[None]:
    """Empty broker and result databases (the db indexes of CELERY_BROKER_URL)."""
    urls = (settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND)
    for url in urls:
        redis.Redis.from_url(url).flushdb()
    yield
    for url in urls:
        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def start_worker(tmp_path: Path, celery_broker: None) -> Iterator[object]:
    """A factory of real Celery worker processes, stopped after the test."""
    from tests.workers import Worker, worker_env

    started: list[Worker] = []

    def start(
        name: str = "w1",
        overrides: dict | None = None,
        db_port: int | None = None,
        broker_url: str | None = None,
    ):
        env = worker_env(overrides, db_port)
        if broker_url:
            env["DISTCACHE_TEST_BROKER_URL"] = broker_url
        worker = Worker(name, tmp_path, env)
        started.append(worker)  # stopped after the test even if it never becomes ready
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()
