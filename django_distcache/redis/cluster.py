"""A Django cache on Redis Cluster: django-redis's client on redis-py's ``RedisCluster``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.utils.module_loading import import_string
from django_redis.cache import RedisCache
from django_redis.client.default import DefaultClient, glob_escape
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_distcache.redis.slots import per_slot

CLEAR_BATCH = 1000
# What django-redis's own methods turn into ConnectionInterrupted (for IGNORE_EXCEPTIONS).
_REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, ResponseError, socket.timeout)

# One RedisCluster per LOCATION and options in a process: it holds a connection pool per node
# and the slot table, shared by every thread (Django makes a cache object per thread).
_clusters: dict[str, Cluster] = {}
_clusters_lock = threading.Lock()


C = TypeVar("C", bound="Cluster")


class ClusterUnavailable(RedisConnectionError):
    """No node of the cluster could be reached, or its slots are not all served."""


@contextmanager
def unavailable_as_redis_error() -> Iterator[None]:
    """Raise ClusterUnavailable where redis-py says the cluster is out of reach.

    redis-py says so with RedisClusterException, which is not a RedisError: callers that
    fall back on RedisError (django-redis's IGNORE_EXCEPTIONS, the app's read path) would
    not. Other RedisClusterExceptions (a command whose keys span slots) are left alone.
    """
    try:
        yield
    except SlotNotCoveredError as exc:
        raise ClusterUnavailable(str(exc)) from exc
    except RedisClusterException as exc:
        if isinstance(exc.__cause__, RedisError):
            raise ClusterUnavailable(str(exc)) from exc
        raise


class Cluster(RedisCluster):
    """redis-py's RedisCluster, raising ClusterUnavailable when the cluster is out of reach."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with unavailable_as_redis_error():
            return super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipeline = super().pipeline(transaction, shard_hint)
        execute = pipeline.execute

        def execute_translated(*args: Any, **kwargs: Any) -> Any:
            with unavailable_as_redis_error():
                return execute(*args, **kwargs)

        pipeline.execute = execute_translated
        return pipeline


def cluster_client(urls: list[str], options: dict[str, Any]) -> Cluster:
    """The process's cluster client for these startup node URLs and connection options."""
    identity = ",".join(urls) + repr(sorted(options.items(), key=lambda item: item[0]))
    with _clusters_lock:
        client = _clusters.get(identity)
        if client is None:
            client = _clusters[identity] = new_cluster(Cluster, urls, options)
    return client


def new_cluster(cls: type[C], urls: list[str], options: dict[str, Any]) -> C:
    """A new client of class ``cls`` of the cluster whose startup nodes are ``urls``."""
    others = [parse_url(url) for url in urls[1:]]
    with unavailable_as_redis_error():
        return cls(
            url=urls[0],
            startup_nodes=[ClusterNode(node["host"], node["port"]) for node in others],
            **options,
        )


class RedisClusterClient(DefaultClient):
    """django-redis's client with the nodes of LOCATION as startup nodes of one cluster.

    Multi-key commands are split by hash slot and pipelined: one round trip per node.
    """

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        # LOCATION lists startup nodes of one cluster, not a primary and its replicas.
        urls = server.split(",") if isinstance(server, str) else list(server)
        self._startup_urls = [url.strip() for url in urls if url.strip()]
        self._server = [",".join(self._startup_urls)]
        self._clients = [None]

    def connect(self, index: int = 0) -> RedisCluster:  # type: ignore[override]
        return cluster_client(self._startup_urls, self.connection_options())

    def connection_options(self) -> dict[str, Any]:
        """The options of every node's connections (OPTIONS, CONNECTION_POOL_KWARGS)."""
        params = self.connection_factory.make_connection_params(self._startup_urls[0])
        params.pop("url")
        params.update(self._options.get("CONNECTION_POOL_KWARGS", {}))
        return dict(params)

    def startup_urls(self) -> list[str]:
        """The node URLs of LOCATION."""
        return list(self._startup_urls)

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        client = client or self._clients[index]
        if client is not None:
            client.disconnect_connection_pools()

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict:
        """MGET per hash slot in one pipeline: every node's request is sent, then read."""
        client = client or self.get_client(write=False)
        map_keys = {self.make_key(key, version=version): key for key in keys}
        if not map_keys:
            return {}
        try:
            values = client.mget_nonatomic(list(map_keys))
        except _REDIS_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, values, strict=True)
            if value is not None
        }

    def delete_many(
        self, keys: Iterable[str], version: int | None = None, client: Any = None
    ) -> int:
        """DEL per hash slot in one pipeline (redis-py's own DEL would go slot by slot)."""
        client = client or self.get_client(write=True)
        made = [self.make_key(key, version=version) for key in keys]
        if not made:
            return 0
        try:
            return sum(per_slot(client, "DEL", made))
        except _REDIS_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc

    def clear(self, client: Any = None) -> None:
        """Delete the keys of this cache (its KEY_PREFIX, every version), on every primary.

        A cluster has one database shared with everything else stored there, so unlike
        ``FLUSHDB`` this leaves other caches' and applications' keys alone.
        NOTE: costs a SCAN of every primary, plus one pipelined DEL per ``CLEAR_BATCH`` keys.
        """
        client = client or self.get_client(write=True)
        try:
            batch: list[str] = []
            for key in client.scan_iter(match=self.clear_pattern(), count=CLEAR_BATCH):
                batch.append(key.decode() if isinstance(key, bytes) else key)
                if len(batch) >= CLEAR_BATCH:
                    per_slot(client, "DEL", batch)
                    batch = []
            if batch:
                per_slot(client, "DEL", batch)
        except _REDIS_ERRORS as exc:
            raise ConnectionInterrupted(connection=client) from exc

    def clear_pattern(self) -> str:
        """The glob matching every key this cache makes, whatever its version."""
        return self._backend.key_func("*", glob_escape(self._backend.key_prefix), "*")

    def keys(self, search: str, version: int | None = None, client: Any = None) -> list[Any]:
        """Matching keys of every primary (KEYS would ask a single node)."""
        return list(self.iter_keys(search, version=version, client=client))


class RedisClusterCache(RedisCache):
    """Django cache backend on Redis Cluster; ``LOCATION``: one or more node URLs."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = {"CLIENT_CLASS": f"{__name__}.RedisClusterClient", **params.get("OPTIONS", {})}
        super().__init__(server, {**params, "OPTIONS": options})


def is_cluster_cache(params: dict[str, Any]) -> bool:
    """Whether the CACHES entry ``params`` is a Redis Cluster cache (read, not connected)."""
    try:
        backend = import_string(params.get("BACKEND", ""))
        client = import_string(params.get("OPTIONS", {}).get("CLIENT_CLASS", "builtins.object"))
    except ImportError:
        return False
    return (isinstance(backend, type) and issubclass(backend, RedisClusterCache)) or (
        isinstance(client, type) and issubclass(client, RedisClusterClient)
    )
