"""Invalidations applied in Redis: ``lua/bump.lua`` on one Redis, or per slot on a cluster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from django_distcache.redis import routed, wire
from django_distcache.redis.client import get_redis, script

_EVALSHA = wire.bulk("EVALSHA")


def run_bump(keys_: list[str], args: list[Any]) -> Any:
    """``bump.lua`` in one round trip, sent directly on the thread's connection.

    NOTE: this runs after every commit that touched cached data; redis-py's pipeline
    and script machinery cost about as much as the round trip (see ``wire``).
    """
    bump = script("bump")
    client = get_redis()
    if not wire.can_send_directly(client):
        return bump(keys=keys_, args=args)
    parts = [bump.sha, len(keys_), *keys_, *args]
    body = wire.command(len(parts) + 1, _EVALSHA + b"".join(wire.bulk(part) for part in parts))
    try:
        return wire.send(client, body)
    except NoScriptError:  # a restarted Redis: redis-py loads it and runs
        return bump(keys=keys_, args=args)


def bump_per_slot(
    generations: Sequence[str],
    entries: Sequence[str],
    ack: tuple[str, str] | None,
    near: tuple[str, str] | None = None,
) -> tuple[int, int]:
    """``bump.lua`` per hash slot of a Redis Cluster, then, once every part applied, the
    near caches' message (``near``: (channel, sequence key)) and ``ack`` ((set key,
    member)); (generations deleted instead of bumped, 1 if acknowledged)."""
    return routed.bump(get_redis(), script, generations, entries, ack, near)  # type: ignore[arg-type]
