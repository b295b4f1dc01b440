"""One script call with its constant arguments packed once: the write-behind hot path.

A call whose reply is lost is not retried: an increment it carried may have been
applied. See ``django_distcache.redis.wire`` for why the command is encoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from django_distcache.redis import routed, wire
from django_distcache.redis.once import call_once


class PackedCall:
    """EVALSHA of ``script`` with its ``fixed`` keys and ``leading`` arguments packed once;
    each call adds ``row_keys`` keys (after the fixed ones) and its own arguments."""

    def __init__(
        self, script: Any, fixed: Sequence[str], row_keys: int, leading: Sequence[Any]
    ) -> None:
        self.script = script
        self.fixed = list(fixed)
        self.leading = list(leading)
        head = [b"EVALSHA", script.sha, len(self.fixed) + row_keys, *self.fixed]
        self.head = b"".join(wire.bulk(part) for part in head)
        self.tail = b"".join(wire.bulk(part) for part in self.leading)
        self.count = len(head) + row_keys + len(self.leading)

    def __call__(
        self, client: Any, row_keys: Sequence[str], args: Sequence[Any], then: Sequence[Any] = ()
    ) -> Any:
        """The script's reply; with ``then`` (one more command's parts, sent in the same
        round trip over the same connection), [the script's reply, that command's]."""
        keys, all_args = [*self.fixed, *row_keys], [*self.leading, *args]
        if routed.is_cluster(client):
            return call_once(client, self.script, keys, all_args, then)
        if not wire.can_send_directly(client):
            return self._pipelined(client, keys, all_args, then)
        body = wire.command(
            self.count + len(args),
            self.head
            + b"".join(wire.bulk(key) for key in row_keys)
            + self.tail
            + b"".join(wire.bulk(arg) for arg in args),
        )
        if then:
            body += wire.encode(*then)
        try:
            return wire.send(client, body, replies=2 if then else 1)
        except NoScriptError:
            # The script is not loaded (a restarted Redis): nothing was written; load
            # it and send again.
            client.script_load(self.script.script)
            return wire.send(client, body, replies=2 if then else 1)

    def _pipelined(self, client: Any, keys: list[str], args: list[Any], then: Sequence[Any]) -> Any:
        if not then:
            return self.script(keys=keys, args=args, client=client)
        pipe = client.pipeline(transaction=False)
        self.script(keys=keys, args=args, client=pipe)
        pipe.execute_command(*then)
        return pipe.execute()


def run_after(
    client: Any,
    commands: Sequence[Sequence[Any]],
    script: Any,
    keys: Sequence[str],
    args: Sequence[Any],
) -> list[Any]:
    """Run ``commands`` (idempotent ones: they may run twice), then ``script``, in one
    round trip; their replies, the script's last. (redis-py's pipeline would first ask
    whether the script is loaded: one round trip more.)

    On a Redis Cluster the commands (each on keys of one slot) go to their nodes, and the
    script is sent once they all replied: NOTE: two round trips there.
    """
    if routed.is_cluster(client):
        replies = routed.run(client, [(None, parts, ()) for parts in commands]) if commands else []
        return [*replies, call_once(client, script, keys, args)]
    if not wire.can_send_directly(client):
        pipe = client.pipeline(transaction=False)
        for parts in commands:
            pipe.execute_command(*parts)
        script(keys=keys, args=args, client=pipe)
        return pipe.execute()
    body = b"".join(wire.encode(*parts) for parts in commands)
    body += wire.encode("EVALSHA", script.sha, len(keys), *keys, *args)
    count = len(commands) + 1
    try:
        replies = wire.send(client, body, replies=count)
    except NoScriptError:
        client.script_load(script.script)
        replies = wire.send(client, body, replies=count)
    return replies if count > 1 else [replies]
