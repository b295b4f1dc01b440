"""The app's scripts on a Redis Cluster: each call split by hash slot, one round trip per node.

On one Redis a script reads an entry's generations and the entry itself atomically. On a
cluster the generations live in their own slots (they are shared by many entries), so
they are read first, or in the same pipeline as the entries, and passed to the entries'
scripts as an argument; an entry and its lease share one slot (``keys.lease_key``).
A batch of calls is one request per node, written to every node before any reply is
read: one round trip per node, in parallel (see ``_send``).

NOTE: what this gives up against one Redis: a store is not refused when a generation
moved on since its lease was taken (the entry is stored under the generations it was
loaded under, so no reader takes it as current; its lease protects it against the
deletes of its own row), and an early refresh's lease does not check them either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from redis.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    NoScriptError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_distcache import keys as _keys
from django_distcache.redis.breaker import RedisUnavailable
from django_distcache.redis.cluster import unavailable_as_redis_error
from django_distcache.redis.guard import guarded
from django_distcache.redis.slots import keys_by_slot

if TYPE_CHECKING:
    from redis.commands.core import Script

# Replies saying the slot table is out of date (MovedError is an AskError), or the cluster
# is changing: redis-py's pipeline deals with them.
_REDIRECTED = (AskError, TryAgainError, ClusterDownError)

# A call of a script: (script, KEYS, ARGV), or (None, [command, *arguments]) for a command.
Call = tuple[Any, Sequence[Any], Sequence[Any]]


def is_cluster(client: object) -> TypeGuard[RedisCluster]:
    """Whether ``client`` (the app's client of a cache) is a Redis Cluster client."""
    return isinstance(client, RedisCluster)


def run(client: RedisCluster, calls: Sequence[Call]) -> list[Any]:
    """Run ``calls``, one request per node written to every node before any reply is
    read; their replies in order. A script a node lacks (a promoted replica, a restarted
    node) is loaded on every primary and its call sent again. Raises the first error
    reply; a node out of reach trips the breaker of the client's cache."""
    replies = guarded(getattr(client, "breaker", None), _send_loaded, client, calls)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _send_loaded(client: RedisCluster, calls: Sequence[Call]) -> list[Any]:
    """``_send``, the scripts a node lacks loaded on every primary and sent again."""
    replies = _send(client, calls)
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        for source in {calls[i][0].script for i in missing}:
            client.script_load(source)
        again = _send(client, [calls[i] for i in missing])
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    return replies


def _command(call: Call) -> tuple[Any, ...]:
    script, keys_, args = call
    if script is None:
        return tuple(keys_)
    return ("EVALSHA", script.sha, len(keys_), *keys_, *args)


def _first_key(call: Call) -> Any:
    return call[1][1] if call[0] is None else call[1][0]


def _send(client: RedisCluster, calls: Sequence[Call]) -> list[Any]:
    """The replies of ``calls`` (error replies as exceptions), sent directly on one
    connection per node; what the slot table got wrong (a node gone, MOVED, ASK,
    TRYAGAIN) is sent again through redis-py's cluster pipeline, which follows
    redirections, refreshes the slot table and retries.

    NOTE: redis-py's cluster pipeline costs several times the round trip in Python (it
    resolves a routing policy per command); this path is one packed write per node.
    Every call is safe to send twice (the scripts are idempotent for their caller).
    """
    replies: list[Any] = [None] * len(calls)
    # A slot no node serves (the cluster failing over) is a RedisError, not redis-py's
    # RedisClusterException, so the callers fall back as on any outage.
    with unavailable_as_redis_error():
        redo = _send_direct(client, calls, replies)
        if redo:
            again = _send_pipeline(client, [calls[i] for i in redo])
            for i, reply in zip(redo, again, strict=True):
                replies[i] = reply
    return replies


def _send_direct(client: RedisCluster, calls: Sequence[Call], replies: list[Any]) -> list[int]:
    """Send ``calls`` node by node, then read every node's replies into ``replies``;
    returns the indexes to send again through redis-py."""
    by_node: dict[str, tuple[Any, list[int]]] = {}
    for i, call in enumerate(calls):
        node = client.get_node_from_key(_first_key(call))
        by_node.setdefault(node.name, (node, []))[1].append(i)
    sent: list[tuple[Any, Any, list[int]]] = []
    redo: list[int] = []
    try:
        for node, indexes in by_node.values():
            pool = client.get_redis_connection(node).connection_pool
            try:
                connection = pool.get_connection()
            except (RedisConnectionError, RedisTimeoutError):
                redo.extend(indexes)
                continue
            sent.append((pool, connection, indexes))
            try:
                packed = connection.pack_commands([_command(calls[i]) for i in indexes])
                connection.send_packed_command(packed)
            except (RedisConnectionError, RedisTimeoutError):
                connection.disconnect()
                redo.extend(indexes)
                indexes.clear()
        for _pool, connection, indexes in sent:
            for position, i in enumerate(indexes):
                try:
                    replies[i] = connection.read_response()
                except ResponseError as error:
                    replies[i] = error
                except (RedisConnectionError, RedisTimeoutError):
                    connection.disconnect()
                    redo.extend(indexes[position:])
                    break
    finally:
        for pool, connection, _indexes in sent:
            pool.release(connection)
    redo.extend(i for i, reply in enumerate(replies) if isinstance(reply, _REDIRECTED))
    return sorted(set(redo))


def _send_pipeline(client: RedisCluster, calls: Sequence[Call]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for call in calls:
        if call[0] is None:
            pipe.execute_command(*call[1])
        else:
            # NOTE: the node is named from redis-py's slot table (no network call):
            # otherwise redis-py asks a node COMMAND GETKEYS for every EVALSHA it pipelines.
            # A MOVED reply is still followed, by slot.
            node = client.get_node_from_key(_first_key(call))
            pipe.execute_command(*_command(call), target_nodes=node)
    return list(pipe.execute(raise_on_error=False))


def mget(client: RedisCluster, keys: Sequence[str]) -> list[Any]:
    """The values of ``keys`` (None where absent): one MGET per slot, one request per node,
    sent to every node before any reply is read."""
    groups = list(keys_by_slot(keys).values())
    found: dict[str, Any] = {}
    replies = run(client, [(None, ["MGET", *group], ()) for group in groups])
    for group, values in zip(groups, replies, strict=True):
        found.update(zip(group, values, strict=True))
    return [found[key] for key in keys]


def _generation_calls(generations_script: Script, generation_keys: Sequence[str]) -> list[Call]:
    return [(generations_script, group, []) for group in keys_by_slot(generation_keys).values()]


def _joined(generation_keys: Sequence[str], groups: list[list[str]], replies: list[Any]) -> bytes:
    """The generations in the order of ``generation_keys``, joined as the scripts do."""
    found: dict[str, bytes] = {}
    for group, values in zip(groups, replies, strict=True):
        found.update(zip(group, values, strict=True))
    return b".".join(found[key] for key in generation_keys)


def generations(client: RedisCluster, script: Any, generation_keys: Sequence[str]) -> bytes:
    """The current generations (each missing one started), one call per slot."""
    groups = list(keys_by_slot(generation_keys).values())
    replies = run(client, _generation_calls(script("generations"), generation_keys))
    return _joined(generation_keys, groups, replies)


def read_or_lease(
    client: RedisCluster,
    script: Any,
    generation_keys: Sequence[str],
    entries: Sequence[str],
    token: str,
    lease_ms: int,
    read_args: Sequence[Any],
    *,
    plain: bool,
) -> list[Any]:
    """read.lua's answer ([generations, r1, r2, ...]) on a cluster.

    One round trip (per node, in parallel) reads the generations and, for ``plain``
    entries (neither served stale nor sliding), the entries: a current one is a hit.
    Entries not found current go through read.lua, per slot, with those generations:
    NOTE: one more round trip, only for a miss (or every read of a timed namespace).
    """
    gen_groups = list(keys_by_slot(generation_keys).values())
    calls = _generation_calls(script("generations"), generation_keys)
    entry_groups = list(keys_by_slot(entries).values()) if plain else []
    calls += [(None, ["MGET", *group], ()) for group in entry_groups]
    replies = run(client, calls)
    current = _joined(generation_keys, gen_groups, replies[: len(gen_groups)])
    answers: dict[str, Any] = {}
    prefix = current + b"|"
    for group, values in zip(entry_groups, replies[len(gen_groups) :], strict=True):
        for key, value in zip(group, values, strict=True):
            if value is not None and value.startswith(prefix):
                answers[key] = value
    rest = [key for key in entries if key not in answers]
    if rest:
        read = script("read")
        groups = list(keys_by_slot(rest).values())
        head = [0, current, lease_ms, token, *read_args]
        calls = [(read, [*group, *map(_keys.lease_key, group)], head) for group in groups]
        for group, reply in zip(groups, run(client, calls), strict=True):
            answers.update(zip(group, reply[1:], strict=True))
    return [current, *(answers[key] for key in entries)]


def store(
    client: RedisCluster, script: Any, head: Sequence[Any], items: Sequence[tuple[Any, ...]]
) -> int:
    """store.lua per slot (``head``: its ARGV before the items, with no generation keys);
    ``items``: (key, token, data, ttl_ms). Returns how many entries were stored."""
    by_key = {item[0]: item for item in items}
    calls: list[Call] = []
    for group in keys_by_slot(by_key).values():
        args = [*head]
        for key in group:
            args.extend(by_key[key][1:])
        calls.append((script("store"), [*group, *map(_keys.lease_key, group)], args))
    return sum(run(client, calls))


def leases(
    client: RedisCluster,
    script: Any,
    name: str,
    head: Sequence[Any],
    entries: Sequence[str],
    tail: Sequence[Any] = (),
) -> list[tuple[list[str], Any]]:
    """Script ``name`` per slot over the leases of ``entries`` (KEYS: those leases; ARGV:
    ``head``, then the items of ``tail`` in step with ``entries``, a token per lease).
    Returns (entries, reply) per call."""
    extra = dict(zip(entries, tail, strict=True)) if tail else {}
    groups = list(keys_by_slot(entries).values())
    calls: list[Call] = [
        (
            script(name),
            [_keys.lease_key(key) for key in group],
            [*head, *(extra[key] for key in group if extra)],
        )
        for group in groups
    ]
    return list(zip(groups, run(client, calls), strict=True))


def bump(
    client: RedisCluster,
    script: Any,
    generations: Sequence[str],
    entries: Sequence[str],
    ack: tuple[str, str] | None,
    near: tuple[str, str] | None = None,
) -> tuple[int, int]:
    """bump.lua per slot (entries with their leases, generations), then, only once every
    part applied, one call of near_publish.lua that numbers and publishes the whole
    invalidation to the near caches (``near``: (channel, sequence key)) and records the
    outbox row's acknowledgement (``ack``: (set key, member)); the sequence and the set
    share the outbox's slot.

    Returns (generations deleted instead of bumped, 1 if acknowledged else 0).
    NOTE: two round trips (each to the nodes concerned, in parallel) when there is a row
    to acknowledge or near caches to tell; the message goes out after every part applied,
    so no near cache drops a value that a node still serves and keeps it again.
    """
    calls: list[Call] = []
    by_slot_gens = keys_by_slot(generations)
    by_slot_entries = keys_by_slot(entries)
    for slot in {*by_slot_gens, *by_slot_entries}:
        gens = by_slot_gens.get(slot, [])
        ents = by_slot_entries.get(slot, [])
        keys_ = [*gens, *ents, *map(_keys.lease_key, ents)]
        calls.append((script("bump"), keys_, [len(gens), len(ents), "", ""]))
    deleted = sum(reply[0] for reply in run(client, calls)) if calls else 0
    if near is None:
        if ack is None:
            return deleted, 0
        try:
            client.sadd(ack[0], ack[1])
        except ResponseError:  # out of memory: it took effect, the row stays for the replay
            return deleted, 0
        return deleted, 1
    channel, sequence = near
    keys_ = [sequence] if ack is None else [sequence, ack[0]]
    args = [channel, ack[1] if ack else "", " ".join(generations), " ".join(entries)]
    try:
        (acked,) = run(client, [(script("near_publish"), keys_, args)])
    except RedisUnavailable as error:
        # The parts were applied: the caller must not take it for an invalidation that
        # never reached Redis (it tells the near caches to empty themselves).
        raise RedisConnectionError(f"applied, but not published: {error}") from error
    return deleted, int(acked)
