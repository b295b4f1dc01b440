"""Commands sent over a pooled redis-py connection without its per-call overhead.

NOTE: redis-py packs and checks every argument of every call and wraps each command in
its retry machinery; on the hot paths (a cache hit, a buffered write) that costs as much
as Redis's own work. Here a command is encoded directly and sent over a connection of
the client's pool; replies and error replies are read by redis-py's own parser, so
errors raise their usual exceptions. Nothing is retried: a caller that needs a retry
decides for itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError, TimeoutError


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


def send(client: Redis, body: bytes) -> Any:
    """Send one encoded command over a pooled connection and return the parsed reply."""
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([body])
        return connection.read_response()
    except (ConnectionError, TimeoutError, OSError):
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


_MGET = bulk("MGET")


def mget(client: Redis, keys: Sequence[bytes | str]) -> list[Any]:
    """MGET ``keys`` in one round trip."""
    if not can_send_directly(client):
        return client.mget(keys)
    body = command(len(keys) + 1, _MGET + b"".join(bulk(key) for key in keys))
    return send(client, body)
