"""A write outside a transaction overlaps its invalidation with its statement: fence, then release.

A write made in autocommit would otherwise wait for two round trips in turn: its
statement (which commits), then Redis's reply to its invalidation. Instead, the
invalidation is sent *before* the statement as a fence (``bump.lua`` mode "fence":
entries deleted, generations bumped, both marked fenced) and its reply is read once
the statement returns, by then already here. While the fence is up no reader takes a
lease or stores under it, so nothing read before the commit is kept. After the commit
the release (mode "release": generations bumped again, entries deleted again, the
fence given back, the near caches told, the outbox row acknowledged) is sent without
waiting for its reply, which the thread reads with its next command.

Why that is safe: a reader that comes after the write returned finds the fence's
deletes and bumps applied (its reply was awaited) and either the fence still up (it
loads the committed row and stores nothing) or released (it loads the committed row
and stores it). A fence whose writer died ends by itself after ``FENCE_MS``; a
statement that ran longer than a quarter of that waits for its release, so no fence
ever ends before its commit is released.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.exceptions import RedisError, ResponseError

from django_distcache.conf import get_settings
from django_distcache.outbox.apply import MOST_ENTRIES_PER_CALL, bump_arguments, bump_body
from django_distcache.reads.channel import publish_unnumbered
from django_distcache.redis import breaker, routed, wire
from django_distcache.redis.client import get_redis

logger = logging.getLogger("django_distcache")

# How long a fence stays up if its writer never releases it (it died).
FENCE_MS = 10_000
# A statement slower than this (seconds from the fence) waits for its release's reply.
_RELEASE_WAITED_AFTER = FENCE_MS / 4 / 1000


class Fence:
    """A fence sent before a write's statement: ``reply`` once read."""

    def __init__(self, generations: list[str], entries: list[str]) -> None:
        self.generations = generations
        self.entries = entries
        self.sent_at = time.monotonic()
        self.replies: list[Any] = []
        self.lowered = False

    def up(self) -> bool | None:
        """Whether the fence holds (True), did not take effect (False) or is unknown
        (None: its reply was lost with the connection); reads its reply if not yet read."""
        if not self.replies:
            try:
                wire.read_pending(get_redis())
            except RedisError:
                return None
        if not self.replies:
            return None
        reply = self.replies[0]
        if isinstance(reply, ResponseError):
            return False  # the script did not run (NOSCRIPT, a refused command)
        return isinstance(reply, list) and len(reply) == 3 and reply[2] == 1


def can_fence(generations: list[str], entries: list[str]) -> bool:
    """Whether this invalidation may go as a fence (one call on one plain Redis)."""
    if not generations and not entries:
        return False
    if len(entries) > MOST_ENTRIES_PER_CALL or get_settings().REPLICA_LAG > 0:
        return False
    client = get_redis()
    return wire.can_send_directly(client) and not routed.is_cluster(client)


def raise_fence(generations: list[str], entries: list[str]) -> Fence | None:
    """Send the fence of an invalidation about to be written, without waiting; None if it
    cannot go that way (the invalidation is then applied after the statement as usual)."""
    generations, entries = sorted(generations), sorted(entries)
    if not can_fence(generations, entries):
        return None
    fence = Fence(generations, entries)
    keys_, args = bump_arguments(generations, entries, mode="fence", fence_ms=FENCE_MS)
    try:
        with breaker.invalidating():
            wire.send_later(get_redis(), bump_body(keys_, args), fence.replies.append)
    except RedisError:
        return None
    return fence


def release(fence: Fence, ack: str) -> str:
    """After the statement: release ``fence``, acknowledging ``ack``.

    Returns "sent" (the release went, its reply is read later), "release" (the fence
    holds, but the release must be applied and waited for: a slow statement, or it could
    not be sent) or "apply" (the fence did not take effect or is unknown: apply the
    invalidation as if there had been none).
    """
    fence.lowered = True
    up = fence.up()
    if up is None or up is False:
        return "apply"
    if time.monotonic() - fence.sent_at > _RELEASE_WAITED_AFTER:
        return "release"
    keys_, args = bump_arguments(
        fence.generations, fence.entries, ack, mode="release", fence_ms=FENCE_MS
    )

    def released(reply: Any) -> None:
        if isinstance(reply, list):
            return
        # NOTE: its outbox row stays unacknowledged and is replayed; the fence ends by itself.
        logger.warning("django_distcache: releasing an invalidation's fence failed: %s", reply)
        if isinstance(reply, ResponseError):
            publish_unnumbered(fence.generations, fence.entries)

    try:
        with breaker.invalidating():
            wire.send_later(get_redis(), bump_body(keys_, args), released)
    except RedisError:
        return "release"
    return "sent"


def abandon(fence: Fence) -> None:
    """Release a fence whose statement failed or was never sent (nothing to acknowledge)."""
    if fence.lowered:
        return
    fence.lowered = True
    if not fence.up():
        return
    keys_, args = bump_arguments(
        fence.generations, fence.entries, mode="release", fence_ms=FENCE_MS
    )
    try:
        with breaker.invalidating():
            wire.send_later(get_redis(), bump_body(keys_, args), lambda _reply: None)
    except RedisError:
        logger.warning("django_distcache could not release a fence: it ends by itself")
