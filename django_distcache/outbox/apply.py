"""Applying an invalidation to Redis in one call, and acknowledging its outbox row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_distcache import keys
from django_distcache.outbox.keys import acked_key, member
from django_distcache.outbox.record import Row, keep
from django_distcache.redis import breaker
from django_distcache.redis.client import on_cluster
from django_distcache.redis.errors import RedisError, ResponseError
from django_distcache.redis.invalidations import bump_per_slot, run_bump
from django_distcache.redis.near_channel import channel_names, publish_unnumbered


def bump_arguments(
    generations: list[str], entries: list[str], ack: str = ""
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``bump.lua``: delete ``entries`` and their leases, bump (or, when
    Redis refuses writes, delete) ``generations``, acknowledge ``ack``, and publish it all
    to the near caches with the next sequence number."""
    channel, sequence = channel_names()
    keys_ = [*generations, *entries, *(keys.lease_key(key) for key in entries), sequence]
    if ack:
        keys_.append(acked_key())
    return keys_, [len(generations), len(entries), ack, channel]


def bump(generations: list[str], entries: list[str], ack: str = "") -> tuple[int, int]:
    """Apply an invalidation (bump.lua) and publish it to the near caches: in one call on
    one Redis; on a Redis Cluster in one call per slot, sent to the nodes in parallel, then
    published and acknowledged after them all (near_publish.lua).
    Returns (generations deleted instead of bumped, 1 if ``ack`` was recorded else 0)."""
    if on_cluster():
        row = (acked_key(), ack) if ack else None
        return bump_per_slot(generations, entries, row, channel_names())
    deleted, acked = run_bump(*bump_arguments(generations, entries, ack))
    return deleted, acked


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
    with breaker.invalidating():
        try:
            for part_generations, part_entries, last in _parts(generations, entries):
                _deleted, acked = bump(part_generations, part_entries, ack if last else "")
        except RedisError as error:
            if isinstance(error, ResponseError) or (
                on_cluster() and not isinstance(error, breaker.RedisUnavailable)
            ):
                # Redis is there but refused it, or some nodes of a cluster may have
                # applied their part unpublished: the near caches must not keep serving.
                publish_unnumbered(generations, entries)
            kept = keep(row, generations, entries, f"{type(error).__name__}: {error}")
            return _after_recovery(generations, entries, kept, error)
    if ack and not acked:
        # NOTE: it took effect (DEL works at maxmemory), but Redis would not record it.
        keep(row, generations, entries, "Redis refused to record it (out of memory)")
    return True


# Entries per bump.lua call: an invalidation of more rows (a bulk_create or an update of
# many thousands) goes in several calls, so that no one command blocks Redis for long.
MOST_ENTRIES_PER_CALL = 1000


def _parts(
    generations: list[str], entries: list[str]
) -> Iterable[tuple[list[str], list[str], bool]]:
    """(generations, entries, whether it is the last) of each bump.lua call.

    NOTE: one round trip per MOST_ENTRIES_PER_CALL entries; the row is acknowledged with
    the last, so a failure half way keeps all of it for the replay (applying is idempotent).
    """
    if len(entries) <= MOST_ENTRIES_PER_CALL:
        yield generations, entries, True
        return
    starts = range(0, len(entries), MOST_ENTRIES_PER_CALL)
    for number, start in enumerate(starts):
        part = entries[start : start + MOST_ENTRIES_PER_CALL]
        yield (generations if number == 0 else []), part, number == len(starts) - 1


def _after_recovery(
    generations: list[str], entries: list[str], row: Row | None, error: RedisError
) -> bool:
    """Apply it now if the breaker began to recover while it was being kept.

    The recovery's replay may have read the outbox before this row was written; the
    breaker lets invalidations through from before that read, so trying once more
    here leaves no gap.
    """
    if not isinstance(error, breaker.RedisUnavailable):
        return False
    cache = breaker.cache_breaker()
    # Read in this order: closing clears opened_at before recovering.
    recovering = cache.recovering
    if not recovering and cache.opened_at:
        return False
    try:
        bump(generations, entries, member(*row) if row else "")
    except RedisError:
        return False
    return True
