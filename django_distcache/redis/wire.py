"""Commands sent over a redis-py connection without its per-call overhead.

NOTE: redis-py packs and checks every argument of every call, takes a connection from
its pool (with a readiness poll of the socket) and wraps each command in its retry
machinery; on the hot paths (a cache hit, a buffered write) that costs as much CPU as
the round trip itself. Here a command is encoded directly and sent over a connection
each thread keeps for these calls, made with the client pool's own connection class
and arguments (address, credentials, db, protocol, parser, and the check a new
connection makes, see ``redis/recovered.py``). Replies and error replies
are read by redis-py's parser, so errors raise their usual exceptions. A connection
that failed in any way is closed and made anew on the next call; only commands that
may safely run twice (reads, the read path's scripts) are sent again at once when a
connection held from before turns out dead. The cost: one more Redis connection per
thread that reads through the cache.

A command whose reply nobody waits for (storing a loaded value) is sent with
``send_later``: its reply is read, in order, when the thread next sends a command on
that connection, so a miss costs one blocking round trip less.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from django_distcache.redis import routed

if TYPE_CHECKING:
    from redis.commands.core import Script

logger = logging.getLogger("django_distcache")

# Replies still to read on a held connection before any other: one callback each.
Later = Callable[[Any], None]
_MOST_PENDING = 64


def bulk(value: Any) -> bytes:
    """One RESP bulk string."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, int) and not isinstance(value, bool):
        data = str(value).encode()
    else:
        raise TypeError(f"cannot send {type(value).__name__} to Redis")
    return b"$%d\r\n%s\r\n" % (len(data), data)


def command(count: int, encoded: bytes) -> bytes:
    """A RESP command of ``count`` parts already encoded with ``bulk``."""
    return b"*%d\r\n%s" % (count, encoded)


def can_send_directly(client: Any) -> bool:
    """Whether ``client`` is a plain redis-py client with a connection pool."""
    return isinstance(client, Redis) and getattr(client, "connection_pool", None) is not None


_local = threading.local()


def _connection(pool: Any) -> tuple[Any, bool]:
    """This thread's connection for ``pool``'s server, and whether it was just made
    (made anew after a fork or a failure)."""
    held = getattr(_local, "held", None)
    if held is not None and held[0] is pool and held[1] == os.getpid():
        return held[2], False
    if held is not None and held[1] == os.getpid():
        held[2].disconnect()  # another server now (settings changed)
    connection = pool.connection_class(**pool.connection_kwargs)
    _local.held = (pool, os.getpid(), connection)
    _local.pending = []
    return connection, True


def _pending() -> list[Later]:
    pending: list[Later] | None = getattr(_local, "pending", None)
    if pending is None:
        pending = _local.pending = []
    return pending


def _drop(connection: Any) -> None:
    # A reply may be half read: never reuse this connection. Replies still pending
    # are lost with it: only commands that may be lost are sent with send_later.
    _local.held = None
    _local.pending = []
    connection.disconnect()


def _read_pending(connection: Any) -> None:
    """Read the replies of earlier ``send_later`` commands, in order."""
    pending = _pending()
    while pending:
        on_reply = pending.pop(0)
        try:
            reply = connection.read_response()
        except ResponseError as error:
            reply = error
        try:
            on_reply(reply)
        except Exception:  # a callback's failure is not this command's
            logger.exception("django_distcache: handling a deferred reply failed")


def send(client: Redis, body: bytes, *, idempotent: bool = False, replies: int = 1) -> Any:
    """Send one encoded command and return the parsed reply (or raise its error).

    ``replies`` > 1: ``body`` holds that many commands (a pipeline, one round trip);
    their replies come back as a list, and an error reply is raised once all are read.

    A client with a circuit breaker (the app's) is checked first and trips it on failure.
    An ``idempotent`` command that fails on a connection held from before (Redis
    restarted, or closed it while idle) is sent once more on a new connection. Like every
    new connection of the app's pool, it first checks that Redis has been recovered since
    it started (``redis/recovered.py``): a Redis that restarted from an older snapshot is
    never trusted as it was.
    """
    breaker = getattr(client, "breaker", None)
    if breaker is not None:
        breaker.check()
    while True:
        connection, fresh = _connection(client.connection_pool)
        try:
            connection.send_packed_command([body], check_health=False)
            _read_pending(connection)
            if replies == 1:
                return connection.read_response()
            return _read_replies(connection, replies)
        except ResponseError:
            raise  # an error reply: the connection is in step and stays
        except RedisConnectionError as error:
            _drop(connection)
            if fresh or not idempotent:
                if breaker is not None:
                    breaker.trip(error)
                raise
        except BaseException as error:
            _drop(connection)
            if breaker is not None:
                breaker.trip(error)
            raise


def send_later(client: Redis, body: bytes, on_reply: Later) -> None:
    """Send one encoded command without waiting for its reply; ``on_reply(reply)`` (an
    exception instance for an error reply) runs when this thread next sends a command.

    NOTE: for commands that may be lost (a connection that fails loses them): they save
    the wait for their reply, one round trip. Raises like ``send`` if it cannot be sent.
    """
    breaker = getattr(client, "breaker", None)
    if breaker is not None:
        breaker.check()
    connection, _fresh = _connection(client.connection_pool)
    try:
        connection.send_packed_command([body], check_health=False)
    except BaseException as error:
        _drop(connection)
        if breaker is not None:
            breaker.trip(error)
        raise
    pending = _pending()
    pending.append(on_reply)
    if len(pending) >= _MOST_PENDING:
        try:
            _read_pending(connection)
        except BaseException as error:
            _drop(connection)
            if breaker is not None:
                breaker.trip(error)
            raise


def script_body(
    script: Script, keys: Sequence[Any], args: Sequence[Any], *, source: bool = False
) -> bytes:
    """EVALSHA of a registered script, encoded; EVAL of its ``source`` if asked."""
    parts = [_EVAL, bulk(script.script)] if source else [_EVALSHA, bulk(script.sha)]
    parts.append(bulk(len(keys)))
    parts.extend(bulk(part) for part in keys)
    parts.extend(bulk(part) for part in args)
    return command(len(parts), b"".join(parts))


def _read_replies(connection: Any, count: int) -> list[Any]:
    """``count`` replies; the first error reply is raised after all are read (so the
    connection stays in step)."""
    answers: list[Any] = []
    error: ResponseError | None = None
    for _ in range(count):
        try:
            answers.append(connection.read_response())
        except ResponseError as exc:
            error = error or exc
            answers.append(exc)
    if error is not None:
        raise error
    return answers


def encode(*parts: Any) -> bytes:
    """One RESP command of ``parts``."""
    return command(len(parts), b"".join(bulk(part) for part in parts))


def run_script(client: Redis, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """EVALSHA a registered script in one round trip; it must be idempotent (it may be
    sent twice, see ``send``). A Redis that lost the script gets it from redis-py."""
    if not can_send_directly(client):
        return script(keys=keys, args=args, client=client)
    try:
        return send(client, script_body(script, keys, args), idempotent=True)
    except NoScriptError:
        return script(keys=keys, args=args, client=client)


_EVALSHA = bulk("EVALSHA")
_EVAL = bulk("EVAL")
_MGET = bulk("MGET")


def mget(client: Redis, keys: Sequence[bytes | str]) -> list[Any]:
    """MGET ``keys`` in one round trip (on a Redis Cluster: one per node, in parallel)."""
    if isinstance(client, RedisCluster):
        return routed.mget(client, [key if isinstance(key, str) else key.decode() for key in keys])
    if not can_send_directly(client):
        return client.mget(keys)
    body = command(len(keys) + 1, _MGET + b"".join(bulk(key) for key in keys))
    return send(client, body, idempotent=True)
