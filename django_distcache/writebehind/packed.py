"""One script call with its constant arguments packed once: the write-behind hot path.

NOTE: redis-py packs and checks every argument of every call; for a script whose keys
and leading arguments never change per model, that costs more than the round trip's
Redis work. Here the constant part is encoded once and each call encodes only its
own arguments. Replies and errors are read by redis-py's own parser, so an error
reply (out of memory, READONLY) raises its usual exception. A call whose reply is
lost is not retried: an increment it carried may have been applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError


def _bulk(value: Any) -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, int) and not isinstance(value, bool):
        data = str(value).encode()
    else:
        raise TypeError(f"cannot send {type(value).__name__} to Redis")
    return b"$%d\r\n%s\r\n" % (len(data), data)


class PackedCall:
    """EVALSHA of ``script`` with ``keys`` and ``leading`` arguments packed once."""

    def __init__(self, script: Any, keys: Sequence[str], leading: Sequence[Any]) -> None:
        self.script = script
        self.keys = list(keys)
        self.leading = list(leading)
        parts = [b"EVALSHA", script.sha, len(self.keys), *self.keys, *self.leading]
        self.count = len(parts)
        self.prefix = b"".join(_bulk(part) for part in parts)

    def __call__(self, client: Any, args: Sequence[Any]) -> Any:
        pool = getattr(client, "connection_pool", None)
        if not isinstance(client, Redis) or pool is None:
            return self.script(keys=self.keys, args=[*self.leading, *args], client=client)
        body = b"*%d\r\n%s%s" % (
            self.count + len(args),
            self.prefix,
            b"".join(_bulk(arg) for arg in args),
        )
        connection = pool.get_connection()
        try:
            connection.send_packed_command([body])
            return connection.read_response()
        except NoScriptError:
            # The script is not loaded (a restarted Redis): redis-py loads it and runs.
            return self.script(keys=self.keys, args=[*self.leading, *args], client=client)
        except (ConnectionError, TimeoutError, OSError):
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
