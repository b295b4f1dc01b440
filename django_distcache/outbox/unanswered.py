"""Invalidations sent without waiting for Redis's reply, and what happens when that reply,
read later, says one did not take effect.

NOTE: a committed write's invalidation is sent before the write returns, and Redis
applies a connection's commands in the order they arrive: the writer's next command,
on the same connection, is answered after it, and so is any command that reaches Redis
after it from anywhere. Only the wait for its reply (a loopback round trip) is saved;
the reply is read with the thread's next command on that connection (``redis/wire.py``).

A reply that says it failed (an error reply, or Redis refused to record the
acknowledgement) may come while the thread runs anything, a transaction of its own
included; so the outbox row is given its keys (``record.keep``) by a thread of its own,
on its own database connection. Until then the row exists unacknowledged, which is
enough for the replay: it applies the row's keys, or empties the cache for a row that
has none yet.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from redis.exceptions import ResponseError

from django_distcache.outbox.record import Row, keep
from django_distcache.redis import breaker

logger = logging.getLogger("django_distcache")

# (row, generations, entries, why, whether Redis answered but refused it)
Failure = tuple[Row | None, list[str], list[str], str, bool]

_failures: queue.SimpleQueue[Failure] = queue.SimpleQueue()
_keeper: list[tuple[int, threading.Thread]] = []
_lock = threading.Lock()
_idle = threading.Condition(_lock)
_waiting = 0


def on_reply(
    row: Row | None, generations: list[str], entries: list[str], acknowledging: bool
) -> Callable[[Any], None]:
    """The callback that reads ``bump.lua``'s reply: nothing to do when it applied."""

    def settle(reply: Any) -> None:
        if isinstance(reply, BaseException):
            # Unreachable (a read-only replica...): the breaker opens before this thread
            # reads anything more from Redis (``wire.send`` checks it after this).
            breaker.trip(reply)
            why = f"{type(reply).__name__}: {reply}"
            _hand_over((row, generations, entries, why, isinstance(reply, ResponseError)))
        elif acknowledging and not reply[1]:
            why = "Redis refused to record it (out of memory)"
            _hand_over((row, generations, entries, why, False))

    return settle


def _hand_over(failure: Failure) -> None:
    global _waiting
    with _lock:
        _waiting += 1
        if not _keeper or _keeper[0][0] != os.getpid() or not _keeper[0][1].is_alive():
            thread = threading.Thread(target=_keep_forever, name="distcache-outbox", daemon=True)
            _keeper[:] = [(os.getpid(), thread)]
            thread.start()
    _failures.put(failure)


def _keep_forever() -> None:
    global _waiting
    from django.db import connections

    from django_distcache.reads.channel import publish_unnumbered

    while True:
        row, generations, entries, why, refused = _failures.get()
        try:
            if refused:
                # Redis is there but refused it: the near caches must not keep serving.
                publish_unnumbered(generations, entries)
            keep(row, generations, entries, why)
        except Exception:
            logger.exception("django_distcache: keeping an invalidation in the outbox failed")
        finally:
            if _failures.empty():
                connections.close_all()  # no connection left open between failures
            with _lock:
                _waiting -= 1
                _idle.notify_all()


def wait_until_kept(timeout: float = 10.0) -> bool:
    """Block until every failed invalidation handed over so far is in the outbox."""
    with _lock:
        return _idle.wait_for(lambda: _waiting == 0, timeout)
