"""The one funnel of every invalidation: delete entries, bump generations, in one round trip."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.exceptions import NoScriptError, RedisError

from django_distcache import keys
from django_distcache.client import get_redis, script
from django_distcache.invalidation.replicas import mark_recent

logger = logging.getLogger("django_distcache")


class PendingInvalidation:
    """What one transaction must invalidate; runs as its first on_commit callback.

    Generations are bumped and entries deleted (with their leases) in one round trip.
    """

    def __init__(self) -> None:
        self.generations: set[str] = set()
        self.entries: set[str] = set()

    def add(self, generations: Iterable[str], entries: Iterable[str]) -> None:
        self.generations.update(generations)
        self.entries.update(entries)

    def touches(self, generation_keys: Iterable[str], key: str | None = None) -> bool:
        if any(g in self.generations for g in generation_keys):
            return True
        return key is not None and key in self.entries

    def __call__(self) -> None:
        apply_invalidation(self.generations, self.entries)


def apply_invalidation(generations: Iterable[str], entries: Iterable[str]) -> None:
    """Delete ``entries`` with their leases and bump ``generations``, now.

    Deleting the lease is what stops a loader that read before the write from
    storing what it read.
    """
    generations = sorted(generations)
    entries = sorted(entries)
    if not generations and not entries:
        return
    try:
        try:
            _send(generations, entries)
        except NoScriptError:
            script("bump").sha = get_redis().script_load(script("bump").script)
            _send(generations, entries)
    except RedisError:
        # NOTE: entries written before this point may be served until their TTL.
        logger.exception(
            "django_distcache could not invalidate %d generations and %d entries",
            len(generations),
            len(entries),
        )
        return
    from django_distcache.signals import invalidated

    invalidated.send(sender=PendingInvalidation, generations=generations, entries=entries)


def _send(generations: list[str], entries: list[str]) -> None:
    """One round trip: delete, bump (EVALSHA), mark. NOTE: the script is called by its SHA
    directly, as redis-py's pipelined scripts would cost a SCRIPT EXISTS round trip more."""
    pipe = get_redis().pipeline(transaction=False)
    if entries:
        pipe.delete(*entries, *(keys.lease_key(key) for key in entries))
    if generations:
        pipe.evalsha(script("bump").sha, len(generations), *generations)
    mark_recent(pipe, generations, entries)
    pipe.execute()
