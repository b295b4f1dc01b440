"""One script call with its constant arguments packed once: the write-behind hot path.

A call whose reply is lost is not retried: an increment it carried may have been
applied. See ``django_distcache.wire`` for why the command is encoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from django_distcache import wire


class PackedCall:
    """EVALSHA of ``script`` with ``keys`` and ``leading`` arguments packed once."""

    def __init__(self, script: Any, keys: Sequence[str], leading: Sequence[Any]) -> None:
        self.script = script
        self.keys = list(keys)
        self.leading = list(leading)
        parts = [b"EVALSHA", script.sha, len(self.keys), *self.keys, *self.leading]
        self.count = len(parts)
        self.prefix = b"".join(wire.bulk(part) for part in parts)

    def __call__(self, client: Any, args: Sequence[Any]) -> Any:
        if not wire.can_send_directly(client):
            return self.script(keys=self.keys, args=[*self.leading, *args], client=client)
        body = wire.command(
            self.count + len(args), self.prefix + b"".join(wire.bulk(arg) for arg in args)
        )
        try:
            return wire.send(client, body)
        except NoScriptError:
            # The script is not loaded (a restarted Redis): redis-py loads it and runs.
            return self.script(keys=self.keys, args=[*self.leading, *args], client=client)
