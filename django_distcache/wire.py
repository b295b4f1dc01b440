"""Commands sent over a redis-py connection without its per-call overhead.

NOTE: redis-py packs and checks every argument of every call, takes a connection from
its pool (with a readiness poll of the socket) and wraps each command in its retry
machinery; on the hot paths (a cache hit, a buffered write) that costs as much CPU as
the round trip itself. Here a command is encoded directly and sent over a connection
each thread keeps for these calls, made with the client pool's own connection class
and arguments (address, credentials, db, protocol, parser). Replies and error replies
are read by redis-py's parser, so errors raise their usual exceptions. A connection
that failed in any way is closed and made anew on the next call; only commands that
may safely run twice (reads, the read path's scripts) are sent again at once when a
connection held from before turns out dead. The cost: one more Redis connection per
thread that reads through the cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

if TYPE_CHECKING:
    from redis.commands.core import Script


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
    return connection, True


def _drop(connection: Any) -> None:
    # A reply may be half read: never reuse this connection.
    _local.held = None
    connection.disconnect()


def send(client: Redis, body: bytes, *, idempotent: bool = False, replies: int = 1) -> Any:
    """Send one encoded command and return the parsed reply (or raise its error).

    ``replies`` > 1: ``body`` holds that many commands (a pipeline, one round trip);
    their replies come back as a list, and an error reply is raised once all are read.

    A client with a circuit breaker (the app's) is checked first and trips it on failure.
    An ``idempotent`` command that fails on a connection held from before (Redis
    restarted, or closed it while idle) is sent once more on a new connection, after the
    breaker's recovery (the lost-state check and the outbox replay) has run: a Redis that
    restarted from an older snapshot is never trusted as it was.
    """
    breaker = getattr(client, "breaker", None)
    if breaker is not None:
        breaker.check()
    while True:
        connection, fresh = _connection(client.connection_pool)
        try:
            connection.send_packed_command([body], check_health=False)
            if replies == 1:
                return connection.read_response()
            return _read_replies(connection, replies)
        except ResponseError:
            raise  # an error reply: the connection is in step and stays
        except RedisConnectionError as error:
            _drop(connection)
            if fresh or not idempotent or (breaker is not None and not breaker.recover_now()):
                if breaker is not None:
                    breaker.trip(error)
                raise
        except BaseException as error:
            _drop(connection)
            if breaker is not None:
                breaker.trip(error)
            raise


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
    parts = [_EVALSHA, bulk(script.sha), bulk(len(keys))]
    parts.extend(bulk(part) for part in keys)
    parts.extend(bulk(part) for part in args)
    try:
        return send(client, command(len(parts), b"".join(parts)), idempotent=True)
    except NoScriptError:
        return script(keys=keys, args=args, client=client)


_EVALSHA = bulk("EVALSHA")
_MGET = bulk("MGET")


def mget(client: Redis, keys: Sequence[bytes | str]) -> list[Any]:
    """MGET ``keys`` in one round trip."""
    if not can_send_directly(client):
        return client.mget(keys)
    body = command(len(keys) + 1, _MGET + b"".join(bulk(key) for key in keys))
    return send(client, body, idempotent=True)
