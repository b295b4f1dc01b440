"""Commands sent over a redis-py connection without its per-call overhead.

NOTE: redis-py packs and checks every argument of every call, takes a connection from
its pool (with a readiness poll of the socket) and wraps each command in its retry
machinery; on the hot paths (a cache hit, a buffered write) that costs as much CPU as
the round trip itself. Here a command is encoded directly and sent over a connection
each thread keeps for these calls, made with the client pool's own connection class
and arguments (address, credentials, db, protocol, parser). Replies and error replies
are read by redis-py's parser, so errors raise their usual exceptions. Nothing is
retried, and a connection that failed in any way is closed and made anew on the next
call. The cost: one more Redis connection per thread that reads through the cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError


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


def _connection(pool: Any) -> Any:
    """This thread's connection for ``pool``'s server (made anew after a fork)."""
    held = getattr(_local, "held", None)
    if held is not None and held[0] is pool and held[1] == os.getpid():
        return held[2]
    connection = pool.connection_class(**pool.connection_kwargs)
    _local.held = (pool, os.getpid(), connection)
    return connection


def send(client: Redis, body: bytes) -> Any:
    """Send one encoded command and return the parsed reply (or raise its error).

    A client with a circuit breaker (the app's) is checked first and trips it on failure.
    """
    breaker = getattr(client, "breaker", None)
    if breaker is not None:
        breaker.check()
    connection = _connection(client.connection_pool)
    try:
        connection.send_packed_command([body], check_health=False)
        return connection.read_response()
    except ResponseError:
        raise  # an error reply: the connection is in step and stays
    except BaseException as error:
        # A reply may be half read: never reuse this connection.
        _local.held = None
        connection.disconnect()
        if breaker is not None:
            breaker.trip(error)
        raise


_MGET = bulk("MGET")


def mget(client: Redis, keys: Sequence[bytes | str]) -> list[Any]:
    """MGET ``keys`` in one round trip."""
    if not can_send_directly(client):
        return client.mget(keys)
    body = command(len(keys) + 1, _MGET + b"".join(bulk(key) for key in keys))
    return send(client, body)
