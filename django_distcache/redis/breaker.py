"""The circuit breaker: after a Redis failure no request waits on Redis until a probe finds it back.

Closed: calls go to Redis. A connection error or timeout opens it: from then on every
call raises ``RedisUnavailable`` at once, without touching the network, and callers fall
back (reads to the database, invalidations to the outbox). One background thread per
breaker probes Redis (at once, then every ``RETRY_REDIS_AFTER`` seconds) while the
others keep bypassing it: that is the half-open state. When a probe answers, the
recovery hooks run first (the outbox's: detect lost state, replay the invalidations
that did not reach Redis) and only then is the breaker closed, so the cache is not
trusted again before the invalidations made during the outage have taken effect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_distcache.conf import get_settings

logger = logging.getLogger("django_distcache")

# Errors that say Redis cannot be reached or is the wrong one (a read-only replica); an
# error reply such as OOM does not.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)

CLOSED, OPEN, PROBING = "closed", "open", "probing"
# Probes woken by a kept invalidation run at most this often (seconds).
WOKEN_PROBE_INTERVAL = 0.1


class RedisUnavailable(RedisConnectionError):
    """Raised without a network call while the breaker is open."""


_local = threading.local()


@contextmanager
def invalidating() -> Iterator[None]:
    """Mark this thread's calls as an invalidation: let through once a probe has found
    Redis back, while reads still bypass it until the outbox is replayed."""
    _local.invalidating = True
    try:
        yield
    finally:
        _local.invalidating = False


def in_recovery() -> bool:
    """Whether this thread runs a recovery (a probe or ``recover_now``): its new
    connections skip the recovered-marker check (see redis/recovered.py)."""
    return getattr(_local, "recovery", False)


class Breaker:
    """The breaker of one Redis server (a cache alias)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.opened_at = 0.0  # time.monotonic() when it opened; 0.0 while closed
        self.probing = False
        self.recovering = False  # a probe found Redis back; the outbox replay runs
        self._probe_ident: int | None = None
        self._generation = 0  # bumped by reset(): a probe of an older generation stops
        self.trips = 0
        self.bypassed = 0
        self.seconds_open = 0.0  # over the openings that have ended
        self.last_error = ""
        self._wake = threading.Event()  # set: probe now rather than at the next turn

    @property
    def state(self) -> str:
        if not self.opened_at:
            return CLOSED
        return PROBING if self.probing else OPEN

    def check(self) -> None:
        """Raise RedisUnavailable while open (the probe thread itself goes through, and
        invalidations once it is recovering)."""
        if self.opened_at and not self._lets_through():
            # NOTE: unlocked: a lost increment under contention is a rounding error.
            self.bypassed += 1
            _count("bypassed")
            raise RedisUnavailable(f"Redis ({self.name}) is unavailable; not waiting for it")

    def _lets_through(self) -> bool:
        if self._probe_ident == threading.get_ident():
            return True
        return self.recovering and getattr(_local, "invalidating", False)

    def trip(self, error: BaseException) -> None:
        """Open after ``error`` if it says Redis cannot be reached; logged once per opening."""
        if isinstance(error, RedisUnavailable) or not isinstance(error, UNREACHABLE):
            return
        with self._lock:
            if self._probe_ident == threading.get_ident():
                return  # the probe reports its own failures
            first = not self.opened_at
            if first:
                self.opened_at = time.monotonic()
                self.trips += 1
                self.last_error = f"{type(error).__name__}: {error}"
                self._start_probe()
        if first:
            _count("trips")
            logger.warning(
                "django_distcache: Redis (%s) unavailable (%s); using the database and the "
                "outbox until a probe finds it back",
                self.name,
                type(error).__name__,
            )
            logger.debug("django_distcache: Redis (%s) failed with %s", self.name, error)

    def _start_probe(self) -> None:
        thread = threading.Thread(
            target=self._probe_until_back,
            args=(self._generation,),
            name=f"distcache-breaker-probe-{self.name}",
            daemon=True,
        )
        thread.start()

    def _probe_until_back(self, generation: int) -> None:
        me = threading.get_ident()
        _local.recovery = True
        with self._lock:
            if generation == self._generation:
                self._probe_ident = me
        try:
            while generation == self._generation:
                started = time.monotonic()
                self._wake.clear()  # a wake from now on probes again
                self.probing = True
                back = self._probe_once(generation)
                self.probing = False
                if back:
                    self._close(generation)
                    return
                if self._wake.wait(get_settings().RETRY_REDIS_AFTER):
                    # Woken: at most one probe per WOKEN_PROBE_INTERVAL all the same.
                    time.sleep(max(0.0, WOKEN_PROBE_INTERVAL - (time.monotonic() - started)))
        finally:
            with self._lock:
                if self._probe_ident == me:
                    self._probe_ident = None
            from django.db import connections

            connections.close_all()  # this thread's database connections

    def wake_probe(self) -> None:
        """Probe now rather than at the next ``RETRY_REDIS_AFTER`` turn.

        Called when an invalidation was kept in the outbox while the breaker is open: if
        Redis is back (other processes may already be using it), the replay applies it
        at once instead of a turn later.
        """
        if self.opened_at:
            self._wake.set()

    def _probe_once(self, generation: int) -> bool:
        from django_distcache.redis.client import get_client

        try:
            get_client(self.name).ping()
            if generation != self._generation:
                return False  # reset meanwhile: the recovery is not this probe's to run
            # From here on invalidations go to Redis again: one committed after the
            # replay read the outbox is applied by its writer (see outbox.apply).
            self.recovering = True
            for hook in recovery_hooks:
                hook(self.name)
        except Exception as exc:  # whatever fails, the breaker stays open and probes again
            self.recovering = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.debug("django_distcache: probe of Redis (%s) failed", self.name, exc_info=True)
            return False
        return True

    def recover_now(self, timeout: float = 10.0) -> bool:
        """Run the recovery hooks now and wait: a new connection found a Redis that has not
        been recovered since it started (see redis/recovered.py).

        They run in a thread of their own, so the caller's transaction is not theirs.
        False if they failed or took longer than ``timeout`` (the caller trips the breaker).
        """
        done: list[bool] = []

        def run() -> None:
            from django.db import connections

            _local.recovery = True
            try:
                for hook in recovery_hooks:
                    hook(self.name)
                done.append(True)
            except Exception:
                logger.debug(
                    "django_distcache: recovery of Redis (%s) failed", self.name, exc_info=True
                )
            finally:
                connections.close_all()  # this thread's database connections

        thread = threading.Thread(target=run, name=f"distcache-recover-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        return bool(done)

    def _close(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or not self.opened_at:
                return
            seconds = time.monotonic() - self.opened_at
            self.seconds_open += seconds
            self.opened_at = 0.0
            self.probing = False
            self.recovering = False
            self._probe_ident = None
        _count("open_ms", int(seconds * 1000))
        logger.warning(
            "django_distcache: Redis (%s) is back after %.1f s; the cache is used again",
            self.name,
            seconds,
        )

    def open_for(self) -> float:
        """Seconds since it opened (0 while closed)."""
        opened = self.opened_at
        return time.monotonic() - opened if opened else 0.0

    def figures(self) -> dict[str, Any]:
        """This process's view: state, seconds open now and in total, trips, bypassed calls."""
        now_open = self.open_for()
        return {
            "redis": self.name,
            "state": self.state,
            "open_for": round(now_open, 3),
            "seconds_open": round(self.seconds_open + now_open, 3),
            "trips": self.trips,
            "bypassed": self.bypassed,
            "last_error": self.last_error,
        }

    def reset(self) -> None:
        """Close at once, stop any probe and zero the figures (tests, settings changes)."""
        with self._lock:
            self._generation += 1
            self.opened_at = 0.0
            self.probing = False
            self.recovering = False
            self._probe_ident = None
            self._wake.set()  # a sleeping probe of the old generation ends now
            self.trips = self.bypassed = 0
            self.seconds_open = 0.0
            self.last_error = ""


def _count(event: str, amount: int = 1) -> None:
    """Add to the shared statistics (namespace ``redis``), flushed with the others."""
    from django_distcache.stats import recorder

    if recorder.enabled():
        recorder.count(BREAKER_NAMESPACE, event, amount)


BREAKER_NAMESPACE = "redis"
# Called with the alias when a probe answers, before the breaker closes; one that
# raises keeps the breaker open (the outbox registers its recovery here).
recovery_hooks: list[Callable[[str], Any]] = []
_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def for_alias(alias: str) -> Breaker:
    """The breaker of a django-redis cache alias (one per alias and process)."""
    found = _breakers.get(alias)
    if found is None:
        with _breakers_lock:
            found = _breakers.setdefault(alias, Breaker(alias))
    return found


class ClientBreaker:
    """One client's handle on the breaker of its cache alias.

    Once the client is discarded (the settings changed: ``redis.client.reset``), a thread
    still sending on it (a statistics or hot-key flush, a probe, a refresh that took it
    just before) meets a server the cache no longer uses: its failure does not open the
    breaker of the client that replaced it.
    """

    def __init__(self, breaker: Breaker) -> None:
        self.breaker = breaker
        self.retired = False

    def check(self) -> None:
        """``Breaker.check`` of the alias's breaker."""
        self.breaker.check()

    def trip(self, error: BaseException) -> None:
        """``Breaker.trip``, unless this client was discarded."""
        if not self.retired:
            self.breaker.trip(error)

    def recover_now(self, timeout: float = 10.0) -> bool:
        """``Breaker.recover_now`` of the alias's breaker."""
        return self.breaker.recover_now(timeout)


_handed_out: list[ClientBreaker] = []


def for_client(alias: str) -> ClientBreaker:
    """A new client's handle on the breaker of ``alias`` (see ``retire_clients``)."""
    handle = ClientBreaker(for_alias(alias))
    with _breakers_lock:
        _handed_out.append(handle)
    return handle


def retire_clients() -> None:
    """The clients made so far are discarded: their failures no longer open a breaker."""
    with _breakers_lock:
        while _handed_out:
            _handed_out.pop().retired = True


def cache_breaker() -> Breaker:
    """The breaker of the Redis holding the entries (CACHE_ALIAS)."""
    return for_alias(get_settings().CACHE_ALIAS)


def check() -> None:
    """Raise RedisUnavailable while the cache's breaker is open."""
    cache_breaker().check()


def trip(error: BaseException) -> None:
    """Open the cache's breaker after ``error`` (if it says Redis cannot be reached)."""
    cache_breaker().trip(error)


def is_open() -> bool:
    """Whether the cache's Redis is being bypassed now (for commands and pages)."""
    return cache_breaker().state != CLOSED


def figures() -> list[dict[str, Any]]:
    """Every breaker of this process (see ``Breaker.figures``)."""
    return [breaker.figures() for breaker in list(_breakers.values())]


def reset() -> None:
    """Close every breaker (tests, settings changes)."""
    for breaker in list(_breakers.values()):
        breaker.reset()
