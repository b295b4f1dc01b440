"""The one place that gets the app's Redis clients (short timeouts, behind the breaker) and scripts.

NOTE: the app does not use django-redis's client as it is: it builds its own connection
pool from the cache's (same server, credentials, connection class and options) with
connect and read timeouts of at most ``REDIS_TIMEOUT`` seconds and no retries, and every
command and pipeline goes through the circuit breaker of that cache alias. django-redis's
own cache API (``cache.get``...) keeps the OPTIONS the project gave it. Each new
connection of that pool (and of the direct path, ``wire``) first checks that Redis has
been recovered since it started (``redis/recovered.py``).
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection
from redis import BlockingConnectionPool, ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.exceptions import RedisError
from redis.retry import Retry

from django_distcache.conf import get_settings
from django_distcache.redis import breaker as _breaker
from django_distcache.redis import recovered
from django_distcache.redis.cluster import Cluster, is_cluster_cache, new_cluster
from django_distcache.redis.guard import Guarded, guard_execute, guarded

if TYPE_CHECKING:
    from redis.commands.core import Script

SCRIPT_NAMES = ("read", "store", "bump", "release", "extend")
_CLONABLE_POOLS = (ConnectionPool, BlockingConnectionPool)


class GuardedPipeline(Pipeline):
    """A pipeline whose execution goes through the breaker."""

    breaker: _breaker.ClientBreaker

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        return guarded(self.breaker, super().execute, raise_on_error)


class GuardedRedis(Guarded, Redis):
    """A redis-py client whose commands go through the breaker of its cache alias."""

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> GuardedPipeline:
        pipe = GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breaker = self.breaker
        return pipe


def connection_kwargs(pool: Any, timeout: float | None, alias: str | None = None) -> dict[str, Any]:
    """``pool``'s connection arguments with timeouts of at most ``timeout`` and no retries;
    for cache ``alias``, every new connection checks that Redis has not lost state."""
    kwargs = dict(pool.connection_kwargs)
    valid = isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0
    if valid:  # a bad value is distcache.E060 reports it
        for name in ("socket_timeout", "socket_connect_timeout"):
            current = kwargs.get(name)
            kwargs[name] = timeout if current is None else min(current, timeout)
    # A dropped connection is reported, not hidden by a reconnect: a restarted Redis
    # must be noticed (it may have lost invalidations).
    kwargs["retry"] = Retry(NoBackoff(), 0)
    if alias is not None:
        kwargs["redis_connect_func"] = recovered.connect_hook(
            alias, kwargs.get("redis_connect_func")
        )
    return kwargs


_pools: list[ConnectionPool] = []
_clusters: list[Cluster] = []


def _app_pool(pool: Any, alias: str | None = None) -> Any:
    if type(pool) not in _CLONABLE_POOLS:
        return pool  # Sentinel and other managed pools are used as configured
    clone = type(pool)(
        connection_class=pool.connection_class,
        max_connections=pool.max_connections,
        **connection_kwargs(pool, get_settings().REDIS_TIMEOUT, alias),
    )
    _pools.append(clone)
    return clone


class GuardedCluster(Guarded, Cluster):
    """The app's Redis Cluster client: its commands and pipelines go through the breaker."""

    def __init__(self, *args: Any, breaker: _breaker.ClientBreaker, **kwargs: Any) -> None:
        self.breaker = breaker  # the constructor already sends COMMAND
        super().__init__(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        return guard_execute(super().pipeline(transaction, shard_hint), self.breaker)


def _cluster_client(alias: str) -> GuardedCluster:
    """A client of cache ``alias``'s cluster with the app's timeouts.

    NOTE: redis-py follows MOVED and ASK and refreshes its slot table itself; a node that
    does not answer is reported (after redis-py's own retries on the slot table), and
    trips the breaker like a single Redis that does not answer.
    """
    backend: Any = caches[alias]
    options = backend.client.connection_options()
    timeout = get_settings().REDIS_TIMEOUT
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        for name in ("socket_timeout", "socket_connect_timeout"):
            current = options.get(name)
            options[name] = timeout if current is None else min(current, timeout)
    # Each node's new connections check it was recovered since it started (a promoted
    # replica was not): as on one Redis, see recovered.py.
    options["redis_connect_func"] = recovered.connect_hook(alias, options.get("redis_connect_func"))
    if "connection_pool_class" not in options:
        # redis-py's pool of a node refuses a connection past max_connections (100) with
        # an error that would open the breaker: more threads than that wait for one
        # instead, at most REDIS_TIMEOUT (then it is an error).
        options["connection_pool_class"] = BlockingConnectionPool
        options.setdefault("timeout", options.get("socket_timeout") or 1.0)
    # Made only while the breaker is closed: redis-py connects to read the slot table, and
    # a cluster out of reach must not make every read wait for that (it opens the breaker).
    alias_breaker = _breaker.for_alias(alias)
    alias_breaker.check()
    options["breaker"] = _breaker.for_client(alias)
    try:
        client = new_cluster(GuardedCluster, backend.client.startup_urls(), options)
    except RedisError as error:
        alias_breaker.trip(error)
        raise
    _clusters.append(client)
    return client


# Clients made since the last reset, and the lock under which one is made.
_made: dict[str, Any] = {}
_making = threading.Lock()


def get_client(alias: str) -> Any:
    """The app's client of the Redis behind django-redis cache ``alias``: a GuardedRedis,
    or a GuardedCluster for a Redis Cluster cache (``redis.routed`` splits its scripts).

    Made once, however many threads ask first at the same time (a cluster's client
    connects to read the slot table: 200 requests of a cold process made 200 of them).
    """
    client = _made.get(alias)
    if client is None:
        client = _make_once(alias)
    return client


def _make_once(alias: str) -> Any:
    if _breaker.in_recovery():
        # The recovery that a new connection runs (recovered.py) may be under way for the
        # thread that holds the lock, making a client: it must not wait for that one.
        return _made.setdefault(alias, _make_client(alias))
    with _making:
        client = _made.get(alias)
        if client is None:
            client = _made.setdefault(alias, _make_client(alias))
        return client


def _make_client(alias: str) -> Any:
    if is_cluster_cache(settings.CACHES.get(alias, {})):
        return _cluster_client(alias)
    raw = get_redis_connection(alias)
    client = GuardedRedis(connection_pool=_app_pool(raw.connection_pool, alias))
    client.breaker = _breaker.for_client(alias)
    return client


_node_clients: dict[int, Redis] = {}


def node_client(raw: Redis) -> Redis:
    """A client of another node of the cache (a replica in LOCATION), with the app's
    timeouts; without a breaker of its own (it serves only the dashboard's figures)."""
    pool = raw.connection_pool
    found = _node_clients.get(id(pool))
    if found is None:
        found = _node_clients[id(pool)] = Redis(connection_pool=_app_pool(pool))
    return found


def get_redis() -> GuardedRedis:
    """The app's client of the Redis holding the entries (CACHE_ALIAS)."""
    return get_client(get_settings().CACHE_ALIAS)


_entries_on_cluster: tuple[Any, bool] = (None, False)


def on_cluster() -> bool:
    """Whether the entries are on a Redis Cluster, from the settings (nothing connects:
    a cluster's client does when made, and a cluster out of reach is still a cluster)."""
    global _entries_on_cluster
    conf = get_settings()
    if _entries_on_cluster[0] is not conf:
        found = is_cluster_cache(settings.CACHES.get(conf.CACHE_ALIAS, {}))
        _entries_on_cluster = (conf, found)
    return _entries_on_cluster[1]


def ping() -> None:
    """PING the Redis holding the entries; raises RedisError if it does not answer."""
    get_redis().ping()


def get_buffer_redis() -> GuardedRedis:
    """The app's client of the Redis holding the write-behind buffer.

    NOTE: django-redis's IGNORE_EXCEPTIONS applies to its cache API only; this client
    raises every error (out of memory, READONLY, the breaker's RedisUnavailable).
    """
    conf = get_settings()
    return get_client(conf.WRITE_BEHIND_CACHE_ALIAS or conf.CACHE_ALIAS)


def buffer_shares_cache() -> bool:
    """Whether the buffer lives in the same Redis as the entries (one script does both)."""
    conf = get_settings()
    return (conf.WRITE_BEHIND_CACHE_ALIAS or conf.CACHE_ALIAS) == conf.CACHE_ALIAS


# Scripts loaded after a shared prelude of Lua functions (as the write-behind ones are).
_PRELUDES = {"read": "gen_common", "warm_lease": "gen_common", "generations": "gen_common"}


def _lua(name: str) -> str:
    return (resources.files("django_distcache.redis") / "lua" / f"{name}.lua").read_text()


@cache
def _script_source(name: str) -> str:
    prelude = _PRELUDES.get(name)
    return _lua(name) if prelude is None else _lua(prelude) + _lua(name)


@cache
def script(name: str) -> Script:
    """A registered script (EVALSHA, loaded again on NOSCRIPT) by its file name."""
    return get_redis().register_script(_script_source(name))


def reset() -> None:
    """Forget the cached clients and scripts, closing their connections (settings changed)."""
    # Retired first: a client made after this is never one of them. A thread still
    # sending on a retired one does not open the breaker (see ClientBreaker).
    _breaker.retire_clients()
    with _making:
        _made.clear()
    script.cache_clear()
    _node_clients.clear()
    while _pools:
        _pools.pop().disconnect()
    while _clusters:
        _clusters.pop().close()
