"""The circuit breaker of the read path: after a Redis failure, read the database for a while."""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from django_distcache.conf import get_settings

logger = logging.getLogger("django_distcache")


class RedisUnavailable(RedisConnectionError):
    """Raised without a network call while the breaker is open."""


_lock = threading.Lock()
_open_until = 0.0


def check() -> None:
    """Raise RedisUnavailable while the breaker is open (a recent read failed)."""
    if _open_until and time.monotonic() < _open_until:
        raise RedisUnavailable("Redis failed recently; reading from the database")


def trip(error: RedisError) -> None:
    """Open the breaker for RETRY_REDIS_AFTER seconds; logged once per opening."""
    global _open_until
    if isinstance(error, RedisUnavailable):
        return
    with _lock:
        already_open = time.monotonic() < _open_until
        _open_until = time.monotonic() + get_settings().RETRY_REDIS_AFTER
    if not already_open:
        logger.warning(
            "django_distcache: Redis unavailable (%s); reading from the database for %s s",
            type(error).__name__,
            get_settings().RETRY_REDIS_AFTER,
        )


def reset() -> None:
    """Close the breaker (tests, settings changes)."""
    global _open_until
    _open_until = 0.0
