"""The read path's round trips: read-or-lease, early leases, stores, reads with a peek.

These are the cache hit's own functions (``reads.readthrough`` calls them directly, with no
layer in between): a hit is ``read_or_lease``, one EVALSHA of ``lua/read.lua`` sent over
the thread's held connection (``wire``); on a Redis Cluster, ``routed`` splits it by slot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from django_distcache.keys import lease_key, with_epoch
from django_distcache.redis import breaker, routed, wire
from django_distcache.redis.buffer_scripts import wb_script
from django_distcache.redis.client import get_redis, script
from django_distcache.redis.errors import RedisError
from django_distcache.redis.leases import lease_ms
from django_distcache.redis.slots import keys_by_slot


class Policy(Protocol):
    """How the entries of one namespace age (``reads.readthrough.Freshness``)."""

    @property
    def stale_ms(self) -> int: ...
    @property
    def slide_ms(self) -> int: ...
    @property
    def max_age_ms(self) -> int: ...
    @property
    def read_args(self) -> tuple[bytes, bytes]: ...


def read_or_lease(
    generation_keys: Sequence[str], keys: Sequence[str], token: str, policy: Policy
) -> list[Any]:
    """[generations, r1, r2, ...]: per key the stored entry, [entry] (a stale hit whose
    refresh lease was taken here), LEASE_TAKEN or HELD_ELSEWHERE."""
    client = get_redis()
    if routed.is_cluster(client):  # its pipelines go through the breaker
        plain = not (policy.stale_ms or policy.slide_ms)
        return routed.read_or_lease(
            client,
            script,
            with_epoch(generation_keys),
            keys,
            token,
            lease_ms(),
            policy.read_args,
            plain=plain,
        )
    breaker.check()
    keys_, args = read_call(with_epoch(generation_keys), keys, token, policy)
    return wire.run_script(client, script("read"), keys_, args)  # the client trips the breaker


def read_call(
    generation_keys: Sequence[str], keys: Sequence[str], token: str, policy: Policy
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of read.lua on one Redis (``generation_keys`` with the epoch)."""
    keys_ = [*generation_keys, *keys, *map(lease_key, keys)]
    return keys_, [len(generation_keys), "", lease_ms(), token, *policy.read_args]


def lease_early(
    generation_keys: Sequence[str], keys: Sequence[str], token: str, generations: bytes
) -> list[str]:
    """Of ``keys`` (read as current under ``generations``), those whose lease is taken
    here for an early refresh; none if Redis fails (the entries stay as they are)."""
    client = get_redis()
    gens = [] if routed.is_cluster(client) else with_epoch(generation_keys)
    head = [len(gens), lease_ms(), token, generations]
    try:
        if routed.is_cluster(client):
            taken = _per_key(routed.leases(client, script, "lease", head, keys), keys)
        else:
            keys_ = [*gens, *map(lease_key, keys)]
            taken = wire.run_script(client, script("lease"), keys_, head)
    except RedisError:
        return []
    return [key for key, answer in zip(keys, taken, strict=True) if answer == 1]


def store(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    load_seconds: float,
    policy: Policy,
) -> int:
    """Store (key, token, data, ttl_ms) items if their leases and generations still hold;
    how many were stored (see ``reads.readthrough.store``)."""
    client = get_redis()
    if routed.is_cluster(client):
        head = _store_head(0, generations, load_seconds, policy)
        return routed.store(client, script, head, items)
    keys_, args = store_call(with_epoch(generation_keys), generations, items, load_seconds, policy)
    return wire.run_script(client, script("store"), keys_, args)


def _per_key(replies: list[tuple[list[str], Any]], keys: Sequence[str]) -> list[Any]:
    """Per key of ``keys``, its answer in a routed script's per-slot replies."""
    answers: dict[str, Any] = {}
    for group, reply in replies:
        answers.update(zip(group, reply, strict=True))
    return [answers[key] for key in keys]


def _store_head(
    n_generations: int, generations: bytes, load_seconds: float, policy: Policy
) -> list[Any]:
    delta_ms = max(1, math.ceil(load_seconds * 1000)) if load_seconds > 0 else 0
    max_age = policy.max_age_ms if policy.slide_ms else 0
    return [n_generations, generations, delta_ms, policy.stale_ms, max_age]


def store_call(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    load_seconds: float,
    policy: Policy,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of store.lua on one Redis (``generation_keys`` with the epoch)."""
    entries = [item[0] for item in items]
    keys_ = [*generation_keys, *entries, *map(lease_key, entries)]
    args = _store_head(len(generation_keys), generations, load_seconds, policy)
    for _key, token, data, ttl in items:
        args.extend((token, data, ttl))
    return keys_, args


def store_later(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    load_seconds: float,
    policy: Policy,
    on_reply: Callable[[Any], None],
) -> int | None:
    """``store`` without waiting for its reply: ``on_reply(reply)`` runs when this thread
    next sends a command, and None is returned. Where the direct path cannot be used,
    the store is sent and waited for: how many were stored.

    NOTE: sent as EVAL, never answered NOSCRIPT by a Redis that restarted. A store lost
    with its connection is only a cache fill that did not happen: its lease expires.
    """
    client = get_redis()
    if not wire.can_send_directly(client):
        return store(generation_keys, generations, items, load_seconds, policy)
    keys_, args = store_call(with_epoch(generation_keys), generations, items, load_seconds, policy)
    body = wire.script_body(script("store"), keys_, args, source=True)
    wire.send_later(client, body, on_reply)
    return None


def read_values(names: list[str]) -> list[Any]:
    """MGET ``names`` in one round trip (one per node on a Redis Cluster)."""
    breaker.check()
    return wire.mget(get_redis(), names)  # the client trips the breaker on a failure


def read_with_peek(
    mget_keys: list[str], peek_keys: list[str], peek_args: list[str]
) -> tuple[list[Any], list[Any]]:
    """MGET ``mget_keys`` and run write-behind's ``lua/wb_peek.lua``, pipelined: one
    round trip (on a Redis Cluster one per node, in parallel: an MGET per slot)."""
    peek = wb_script("peek")
    client = get_redis()
    if routed.is_cluster(client):
        groups = list(keys_by_slot(mget_keys).values())
        calls: list[routed.Call] = [(None, ["MGET", *group], ()) for group in groups]
        *replies, peeked = routed.run(client, [*calls, (peek, peek_keys, peek_args)])
        found: dict[str, Any] = {}
        for group, values in zip(groups, replies, strict=True):
            found.update(zip(group, values, strict=True))
        return [found[key] for key in mget_keys], peeked
    if not wire.can_send_directly(client):
        pipe = client.pipeline(transaction=False)
        pipe.mget(mget_keys)
        peek(keys=peek_keys, args=peek_args, client=pipe)
        values, peeked = pipe.execute()
        return values, peeked
    body = wire.encode("MGET", *mget_keys) + wire.encode(
        "EVALSHA", peek.sha, len(peek_keys), *peek_keys, *peek_args
    )
    try:
        values, peeked = wire.send(client, body, idempotent=True, replies=2)
    except NoScriptError:
        # A restarted Redis lost the script: load it and read again.
        client.script_load(peek.script)
        values, peeked = wire.send(client, body, idempotent=True, replies=2)
    return values, peeked
