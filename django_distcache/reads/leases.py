"""Leases on missing entries: tokens, release, and keeping a slow loader's lease alive.

A lease is stored next to its entry (``keys.lease_key``) as ``b"<token>|<generations>"``:
it belongs to the generations it was taken under (see ``lua/read.lua``).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django_distcache.conf import get_settings
from django_distcache.redis.errors import RedisError
from django_distcache.redis.leases import lease_ms, run_on_leases

__all__ = ["kept_alive", "lease_ms", "new_token", "release", "run_on_leases"]

logger = logging.getLogger("django_distcache")

_token_prefix = os.urandom(6).hex()
_token_counter = itertools.count()


def new_token() -> str:
    """A lease token unique across processes (random per process, counted within)."""
    return f"{_token_prefix}{next(_token_counter)}"


def release(leases: Sequence[tuple[str, str]]) -> None:
    """Give up (entry key, token) leases so that waiters load at once."""
    if not leases:
        return
    try:
        run_on_leases("release", [], leases)
    except RedisError:
        logger.warning("django_distcache could not release %d leases", len(leases))


class _Keeper:
    """One thread per process renewing the leases of loads running longer than a third
    of LEASE_TIMEOUT. NOTE: a load shorter than that costs two dict operations, no
    round trip; a holder that dies stops renewing, so its lease still expires."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held: dict[tuple[str, str], float] = {}
        self._pid = 0
        self._period = 0.0

    def hold(self, leases: Sequence[tuple[str, str]]) -> None:
        now = time.monotonic()
        with self._condition:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._held.clear()
                threading.Thread(target=self._run, name="distcache-leases", daemon=True).start()
            if self._period != get_settings().LEASE_TIMEOUT / 3:
                self._condition.notify()  # LEASE_TIMEOUT changed: wake to take it up
            for lease in leases:
                self._held[lease] = now

    def drop(self, leases: Sequence[tuple[str, str]]) -> None:
        with self._condition:
            for lease in leases:
                self._held.pop(lease, None)

    def _run(self) -> None:
        while True:
            with self._condition:
                # NOTE: it wakes every third of LEASE_TIMEOUT, so that a load costs no
                # wake-up of this thread (a context switch on every miss).
                period = self._period = get_settings().LEASE_TIMEOUT / 3
                self._condition.wait(period)
                due = time.monotonic() - period
                renew = [lease for lease, since in self._held.items() if since <= due]
            if renew:
                self._extend(renew)

    def _extend(self, leases: list[tuple[str, str]]) -> None:
        try:
            run_on_leases("extend", [lease_ms()], leases)
        except RedisError:
            logger.warning("django_distcache could not renew %d leases", len(leases))
            return
        now = time.monotonic()
        with self._condition:
            for lease in leases:
                if lease in self._held:
                    self._held[lease] = now


_keeper = _Keeper()


@contextmanager
def kept_alive(leases: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Renew ``leases`` while the block runs (the load they protect)."""
    _keeper.hold(leases)
    try:
        yield
    finally:
        _keeper.drop(leases)
