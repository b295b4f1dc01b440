"""Applying an invalidation to Redis in one round trip, and acknowledging its outbox row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError

from django_distcache.client import get_redis, script
from django_distcache.outbox.keys import acked_key, member
from django_distcache.outbox.record import Row, keep


def bump_call(pipe: Any, generations: list[str], ack: str = "") -> None:
    """Queue ``bump.lua`` on ``pipe``: bump (or, when Redis refuses writes, delete)
    ``generations`` and acknowledge ``ack``."""
    keys_ = [*generations, acked_key()] if ack else generations
    script("bump")(keys=keys_, args=[ack], client=pipe)


def apply(generations: Iterable[str], entries: Iterable[str], row: Row | None = None) -> bool:
    """Delete ``entries`` with their leases and bump ``generations`` now; ack ``row``.

    Returns whether the invalidation took effect. When it did not, or Redis would not
    record the acknowledgement, it is kept in the outbox for the replay.
    """
    generations = sorted(generations)
    entries = sorted(entries)
    ack = member(*row) if row else ""
    if not generations and not entries and not ack:
        return True
    try:
        pipe = get_redis().pipeline(transaction=False)
        if entries:
            pipe.delete(*entries, *(f"{key}:lease" for key in entries))
        if generations or ack:
            bump_call(pipe, generations, ack)
        results = pipe.execute()
    except RedisError as error:
        keep(row, generations, entries, f"{type(error).__name__}: {error}")
        return False
    if ack and not results[-1][1]:
        # NOTE: it took effect (DEL works at maxmemory), but Redis would not record it.
        keep(row, generations, entries, "Redis refused to record it (out of memory)")
    return True
