"""The near cache's messages: one channel and sequence per Redis, read by a subscriber thread.

Every invalidation is published in the call that applies it on one Redis
(``lua/bump.lua``), or in the call that acknowledges it once every node applied it on a
Redis Cluster (``lua/near_publish.lua``), with the next number of a sequence kept in
Redis (``redis/near_channel.py``). Each process's subscriber applies the messages to its
near cache; a reconnection, a gap in the numbers or a message Redis could not number
empties it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from django_distcache.conf import get_settings
from django_distcache.redis.near_channel import (
    Subscription,
    channel_names,
    publish_unnumbered,
    refresh_topology,
)

if TYPE_CHECKING:
    from django_distcache.reads.near import NearCache

__all__ = ["Subscriber", "channel_names", "parse", "publish_unnumbered"]

logger = logging.getLogger("django_distcache")

# Seconds without any message before the subscriber pings; no answer within two more of
# them and the connection counts as lost.
HEARTBEAT = 1.0
_RETRY_AFTER = 0.5


def parse(data: bytes) -> tuple[int | None, list[str], list[str]]:
    """(sequence or None when Redis could not number it, generations, entries)."""
    sequence, generations, entries = data.decode().split("\n", 2)
    number = None if sequence == "-" else int(sequence)
    return number, generations.split(), entries.split()


class Subscriber(threading.Thread):
    """Applies the published invalidations to ``cache``; empties it when it may miss some.

    NOTE: one Redis connection per process, idle but for a ping a second when no
    invalidation comes.
    """

    def __init__(self, cache: NearCache) -> None:
        super().__init__(name="django_distcache near cache", daemon=True)
        self.cache = cache
        self.stopping = threading.Event()
        self.channel, self.sequence_key = channel_names()
        self._timeout = get_settings().REDIS_TIMEOUT
        self._subscription: Subscription | None = None
        self.last: int | None = None
        self.connections = 0

    def stop(self) -> None:
        """Stop at once (closing the connection ends a blocked read)."""
        self.stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.close()

    def run(self) -> None:
        pause = _RETRY_AFTER
        while not self.stopping.is_set():
            connections = self.connections
            try:
                self._listen()
            except Exception as error:  # whatever ended it, L1 can no longer be vouched for
                if not self.stopping.is_set() and self.connections > connections:
                    # Once per loss, not once per attempt while Redis stays away.
                    logger.info("django_distcache near cache lost its messages: %r", error)
            finally:
                self.cache.clear(live=False)
                self._close()
            if not self.stopping.is_set():
                refresh_topology()  # on a cluster, the sequence's primary may have moved
            # 0.5 s after a connection that worked; backing off to 5 s while none does.
            pause = _RETRY_AFTER if self.connections > connections else min(2 * pause, 5.0)
            self.stopping.wait(pause)

    def _close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()

    def _listen(self) -> None:
        # Named, so that an operator (or a test) finds it in CLIENT LIST.
        name = f"distcache-near-{os.getpid()}"
        self._subscription = subscription = Subscription(self.channel, self._timeout, name)
        quiet_since = time.monotonic()
        pinged = False
        while not self.stopping.is_set():
            message = subscription.message(HEARTBEAT)
            now = time.monotonic()
            if message is None:
                if now - quiet_since >= 3 * HEARTBEAT:
                    raise ConnectionError("no answer to the near cache's ping")
                if not pinged:
                    subscription.heartbeat()
                    pinged = True
                continue
            quiet_since, pinged = now, False
            if message["type"] == "subscribe":
                self._start(subscription)
            elif message["type"] == "message":
                self._apply(message["data"])

    def _start(self, subscription: Subscription) -> None:
        """Subscribed (again): empty L1 and count from the sequence as it is now."""
        self.cache.clear(live=False)
        self.last = subscription.sequence(self.sequence_key)
        self.connections += 1
        self.cache.clear(live=True)

    def _apply(self, data: bytes) -> None:
        number, generations, entries = parse(data)
        if number is None or number != (self.last or 0) + 1:
            # Unnumbered, some lost, or the counter itself was lost (evicted, flushed):
            # what L1 holds can no longer be vouched for. (Messages published between
            # subscribing and reading the counter land here too: L1 is empty then.)
            self.cache.clear(live=True)
        self.cache.drop(generations, entries)
        # Counted once applied: whoever waits for this number finds it applied.
        if number is not None:
            self.last = number
