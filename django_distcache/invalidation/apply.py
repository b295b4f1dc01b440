"""The one funnel of every invalidation: delete entries, bump generations, in one round trip."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django_distcache import outbox as outbox_module
from django_distcache.conf import get_settings
from django_distcache.invalidation.replicas import mark_recent
from django_distcache.outbox.record import Row as OutboxRow
from django_distcache.reads import near
from django_distcache.redis.errors import RedisError

logger = logging.getLogger("django_distcache")


class PendingInvalidation:
    """What one transaction must invalidate; runs as its first on_commit callback.

    Generations are bumped and entries deleted (with their leases) in one round trip.
    ``outbox`` is the row recorded in the same transaction, acknowledged when applied.
    """

    def __init__(self) -> None:
        # Django names a robust on_commit hook that raised by its __qualname__ (in its log).
        self.__qualname__ = type(self).__qualname__
        self.generations: set[str] = set()
        self.entries: set[str] = set()
        self.outbox: OutboxRow | None = None

    def add(self, generations: Iterable[str], entries: Iterable[str]) -> None:
        self.generations.update(generations)
        self.entries.update(entries)

    def touches(self, generation_keys: Iterable[str], key: str | None = None) -> bool:
        if any(g in self.generations for g in generation_keys):
            return True
        return key is not None and key in self.entries

    def __call__(self) -> None:
        apply_invalidation(self.generations, self.entries, outbox=self.outbox)


def apply_invalidation(
    generations: Iterable[str],
    entries: Iterable[str],
    *,
    outbox: OutboxRow | None = None,
) -> None:
    """Delete ``entries`` with their leases and bump ``generations``, now; acknowledge
    ``outbox``.

    Deleting the lease is what stops a loader that read before the write from
    storing what it read. What Redis cannot take now waits in the outbox.
    """
    generations = sorted(generations)
    entries = sorted(entries)
    if generations or entries:
        _mark_recent(generations, entries)
    applied = outbox_module.apply(generations, entries, outbox)
    # This process's near cache drops it at once, before the writer's next read (and
    # even when Redis could not take it: the outbox keeps it for the others).
    near.drop_applied(generations, entries)
    if not applied:
        return
    if not generations and not entries:
        return
    from django_distcache.signals import invalidated

    invalidated.send(sender=PendingInvalidation, generations=generations, entries=entries)


def _mark_recent(generations: list[str], entries: list[str]) -> None:
    """With REPLICA_LAG: mark the keys as just invalidated, before the bump, so that no
    miss between the two reads a replica. NOTE: one round trip more, only then."""
    if get_settings().REPLICA_LAG <= 0:
        return
    try:
        mark_recent(generations, entries)
    except RedisError:
        logger.warning(
            "django_distcache could not mark %d keys as recently invalidated",
            len(generations) + len(entries),
        )
