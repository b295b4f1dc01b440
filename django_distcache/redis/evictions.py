"""Evicted keys as Redis announces them (keyevent notifications), from every primary.

Keyspace and keyevent notifications are per node: a Redis Cluster node publishes only the
evictions of its own keys, on its own connections. So on a cluster every primary gets a
subscription, each read by a thread of its own into one queue; on one Redis there is one
subscription, read where it is asked. NOTE: the primaries are those of the cluster's slot
table when listening starts; restart the listener after adding nodes.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from django_distcache.redis.client import get_redis
from django_distcache.redis.errors import RedisError
from django_distcache.redis.routed import is_cluster

_POLL = 0.5


def primaries() -> list[Any]:
    """A plain client of each primary of the cache's Redis (itself on one Redis)."""
    client: Any = get_redis()
    if is_cluster(client):
        return [client.get_redis_connection(node) for node in client.get_primaries()]
    return [client]


def notify_settings() -> list[str | None]:
    """Each primary's ``notify-keyspace-events``; None where CONFIG is refused (managed Redis)."""
    found: list[str | None] = []
    for client in primaries():
        try:
            reply = client.config_get("notify-keyspace-events")
            found.append(reply.get("notify-keyspace-events", ""))
        except RedisError:
            found.append(None)
    return found


def read_heartbeat(key: str) -> bytes | None:
    """GET ``key`` (the listener's heartbeat)."""
    found: Any = get_redis().get(key)
    return found


def write_heartbeat(key: str, value: str, seconds: int) -> None:
    """SET ``key`` for ``seconds``."""
    get_redis().set(key, value, ex=seconds)


def drop_heartbeat(key: str) -> None:
    """DEL ``key``."""
    get_redis().delete(key)


class EvictedKeys:
    """A subscription to the ``evicted`` keyevent channel of every primary."""

    def __init__(self) -> None:
        self._subscriptions: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._found: queue.Queue[str | BaseException] = queue.Queue()
        self._closed = threading.Event()
        try:
            for client in primaries():
                db = client.connection_pool.connection_kwargs.get("db", 0)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                self._subscriptions.append(pubsub)
                pubsub.subscribe(f"__keyevent@{db}__:evicted")
        except BaseException:
            self.close()
            raise
        if len(self._subscriptions) > 1:
            for pubsub in self._subscriptions:
                thread = threading.Thread(
                    target=self._read_into_queue,
                    args=(pubsub,),
                    name="distcache-evictions",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()

    def next_key(self, timeout: float = _POLL) -> str | None:
        """The next evicted key, or None if none came within ``timeout`` seconds; raises
        the error that ended a subscription."""
        if not self._threads:
            return _key_of(self._subscriptions[0].get_message(timeout=timeout))
        try:
            found = self._found.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(found, BaseException):
            raise found
        return found

    def _read_into_queue(self, pubsub: Any) -> None:
        try:
            while not self._closed.is_set():
                key = _key_of(pubsub.get_message(timeout=_POLL))
                if key is not None:
                    self._found.put(key)
        except BaseException as error:
            if not self._closed.is_set():
                self._found.put(error)

    def close(self) -> None:
        """Unsubscribe everywhere (waits for the readers, at most one poll)."""
        self._closed.set()
        for thread in self._threads:
            thread.join(timeout=_POLL * 4)
        for pubsub in self._subscriptions:
            pubsub.close()


def _key_of(message: dict[str, Any] | None) -> str | None:
    if not message or message["type"] != "message":
        return None
    data = message["data"]
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)
