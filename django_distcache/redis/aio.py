"""The app's asyncio Redis client: a bounded pool of redis.asyncio connections behind the breaker.

NOTE: one pool per event loop (asyncio connections belong to the loop that made them) of
at most ``ASYNC_MAX_CONNECTIONS`` connections: that many requests of one process talk to
Redis at once, the others wait for a free connection (a few microseconds on a hit), so
100 concurrent requests cost that many connections, not 100. Commands are encoded as in
``wire`` and sent over redis.asyncio connections made with the sync client's connection
arguments (address, credentials, db, protocol; timeouts of at most ``REDIS_TIMEOUT``), so
a hit skips redis-py's per-command machinery, which costs as much as the round trip.
The breaker is checked before a request waits for a connection and again once it has
one: while it is open nothing waits on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio.connection as aconnection
from redis import connection as sconnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from django_distcache.conf import DistcacheSettings, get_settings
from django_distcache.redis import breaker as _breaker
from django_distcache.redis import recovered, wire
from django_distcache.redis.client import get_client
from django_distcache.redis.routed import is_cluster

if TYPE_CHECKING:
    from redis.commands.core import Script

_ASYNC_CLASSES = {
    sconnection.Connection: aconnection.Connection,
    sconnection.SSLConnection: aconnection.SSLConnection,
    sconnection.UnixDomainSocketConnection: aconnection.UnixDomainSocketConnection,
}
ASYNC_CLIENT_NAME = "distcache-async"
# Sync-only objects among a sync pool's connection arguments.
# redis_connect_func: the sync connections' recovered check (``redis/recovered.py``);
# an async connection makes its own (``AsyncRedis._check_recovered``).
_NOT_COPIED = {
    "parser_class",
    "retry",
    "connection_pool",
    "event_dispatcher",
    "redis_connect_func",
}


def _accepted(connection_class: type) -> set[str]:
    names: set[str] = set()
    for klass in connection_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names


def async_connection_args(alias: str) -> tuple[type, dict[str, Any]]:
    """The redis.asyncio connection class and arguments of the app's client of ``alias``
    (its timeouts already bounded by ``REDIS_TIMEOUT``), with no retries."""
    client = get_client(alias)
    if is_cluster(client):
        raise NotImplementedError(
            f"cache {alias!r} is a Redis Cluster cache; the async API needs one Redis for now"
        )
    pool = client.connection_pool
    connection_class = _ASYNC_CLASSES.get(pool.connection_class)
    if connection_class is None:
        raise NotImplementedError(
            f"cache {alias!r} uses {pool.connection_class.__name__}; the async API needs "
            "a plain, SSL or Unix socket redis-py connection"
        )
    accepted = _accepted(connection_class)
    kwargs = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in accepted and name not in _NOT_COPIED and not name.startswith("maint")
    }
    kwargs["retry"] = Retry(NoBackoff(), 0)
    # Named in CLIENT LIST (unless the cache names its connections): the budget can be seen.
    kwargs["client_name"] = kwargs.get("client_name") or ASYNC_CLIENT_NAME
    return connection_class, kwargs


class AsyncRedis:
    """At most ``max_connections`` redis.asyncio connections of one event loop."""

    def __init__(
        self, alias: str, connection_class: type, kwargs: dict[str, Any], max_connections: int
    ) -> None:
        self.alias = alias
        # Its own handle: once discarded (settings changed, clients reset), a request still
        # in flight on it does not open the breaker of the client that replaced it.
        self.breaker = _breaker.for_client(alias)
        self.max_connections = max_connections
        self._connection_class = connection_class
        self._kwargs = kwargs
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0  # connections made and not yet closed
        self._recovering: asyncio.Future[bool] | None = None

    async def _acquire(self) -> tuple[Any, bool]:
        """A connection and whether it is new; raises RedisUnavailable while the breaker is open."""
        self.breaker.check()
        await self._slots.acquire()
        try:
            self.breaker.check()  # it may have opened while this request waited
        except BaseException:
            self._slots.release()
            raise
        if self._idle:
            return self._idle.pop(), False
        try:
            connection = self._connection_class(**self._kwargs)
        except BaseException:
            self._slots.release()
            raise
        self.opened += 1
        return connection, True

    def _give_back(self, connection: Any) -> None:
        self._idle.append(connection)
        self._slots.release()

    async def _drop(self, connection: Any) -> None:
        # A reply may be half read: never reuse this connection.
        self.opened -= 1
        self._slots.release()
        # Closing a broken socket may fail too; it is gone either way.
        with contextlib.suppress(Exception):
            await connection.disconnect(nowait=True)

    async def send(self, body: bytes, *, idempotent: bool = False) -> Any:
        """Send one encoded command and return its parsed reply (or raise its error).

        Like ``wire.send``: a connection error trips the breaker; an ``idempotent``
        command whose held connection turns out dead (Redis restarted or closed it) is
        sent once more after the breaker's recovery hooks ran in a thread.
        """
        while True:
            connection, fresh = await self._acquire()
            try:
                if fresh:
                    await self._check_recovered(connection)
                await connection.send_packed_command([body], check_health=False)
                reply = await connection.read_response()
            except ResponseError:
                self._give_back(connection)  # an error reply: the connection is in step
                raise
            except RedisConnectionError as error:
                await self._drop(connection)
                if fresh or not idempotent:
                    self.breaker.trip(error)
                    raise
                if not await self._recover():
                    self.breaker.trip(error)
                    raise
                continue
            except BaseException as error:  # timeouts, cancellation: the reply is unread
                await self._drop(connection)
                self.breaker.trip(error)
                raise
            self._give_back(connection)
            return reply

    async def _check_recovered(self, connection: Any) -> None:
        """Like every new connection of the app (``redis/recovered.py``): a server that
        has not been recovered since it started is recovered before it is used."""
        if _breaker.in_recovery():
            return
        _body, sha = recovered.marker_script(self._kwargs.get("db"))
        try:
            await connection.send_command("SCRIPT", "EXISTS", sha, check_health=False)
            marked = (await connection.read_response())[0]
        except ResponseError:
            return  # scripts refused (an ACL without @scripting): used as it is
        if not marked and not await self._recover():
            raise RedisConnectionError(
                f"Redis ({self.alias}) may have lost invalidations and its recovery failed"
            )

    async def _recover(self) -> bool:
        """Run the breaker's recovery hooks once for every request that found its held
        connection dead at the same time; the other idle connections, made before the same
        restart, are closed so the command is sent again on a new one."""
        if self._recovering is None or self._recovering.done():
            self._recovering = asyncio.ensure_future(asyncio.to_thread(self.breaker.recover_now))
            await self.aclose()
        return await asyncio.shield(self._recovering)

    async def execute(self, *parts: Any, idempotent: bool = False) -> Any:
        """Send one command given as its parts."""
        body = wire.command(len(parts), b"".join(wire.bulk(part) for part in parts))
        return await self.send(body, idempotent=idempotent)

    async def mget(self, keys: Sequence[bytes | str]) -> list[Any]:
        """MGET ``keys`` in one round trip."""
        return await self.execute("MGET", *keys, idempotent=True)

    async def run_script(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA a registered script (the sync client's, same SHA); loaded on NOSCRIPT.
        It must be idempotent: it may be sent twice (see ``send``)."""
        parts = ["EVALSHA", script.sha, len(keys), *keys, *args]
        try:
            return await self.execute(*parts, idempotent=True)
        except NoScriptError:
            await self.execute("SCRIPT", "LOAD", script.script)
            return await self.execute(*parts, idempotent=True)

    async def aclose(self) -> None:
        """Close the idle connections (those in use close when their command ends)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            self.opened -= 1
            with contextlib.suppress(Exception):  # a dead socket is closed all the same
                await connection.disconnect()


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, AsyncRedis]] = (
    weakref.WeakKeyDictionary()
)


_closing: set[asyncio.Task[None]] = set()


def get_async_redis() -> AsyncRedis:
    """The running event loop's client of the Redis holding the entries (CACHE_ALIAS).

    Raises NotImplementedError, without connecting, where the sync client would (a Redis
    Cluster cache) or for a connection class with no asyncio twin (Sentinel).
    """
    loop = asyncio.get_running_loop()
    conf: DistcacheSettings = get_settings()
    found = _clients.get(loop)
    if found is not None and found[0] is conf and not found[1].breaker.retired:
        return found[1]
    if found is not None:  # settings changed, clients reset: the old pool closes in the background
        task = loop.create_task(found[1].aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    connection_class, kwargs = async_connection_args(conf.CACHE_ALIAS)
    client = AsyncRedis(conf.CACHE_ALIAS, connection_class, kwargs, conf.ASYNC_MAX_CONNECTIONS)
    _clients[loop] = (conf, client)
    return client


async def close_async_redis() -> None:
    """Close the running event loop's connections (before the loop ends: tests, scripts)."""
    found = _clients.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found[1].aclose()
