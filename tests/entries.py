"""Reading and rewriting the times stored in an entry, as if its clock had moved on."""

from __future__ import annotations

import time
from collections.abc import Callable

from django_distcache import keys
from django_distcache.redis.client import get_redis


def fn_entry(name: str) -> str:
    """The key of get_or_set(``name``)'s entry."""
    return keys.entry_base("key", "get_or_set", name)


def redis_now_ms() -> int:
    seconds, micros = get_redis().time()
    return seconds * 1000 + micros // 1000


def times(key: str) -> tuple[int, int, int]:
    """(expires, delta, limit) of the entry at ``key``, in ms."""
    meta = get_redis().get(key).split(b"|", 2)[1]
    expires, delta, limit = meta.split(b":")
    return int(expires), int(delta), int(limit)


def data(key: str) -> bytes | None:
    stored = get_redis().get(key)
    return None if stored is None else stored.split(b"|", 2)[2]


def rewrite(
    key: str, *, expires: int | None = None, limit: int | None = None, delta: int | None = None
) -> None:
    """Set the entry's expiry and limit (Redis ms) or load time (ms), keeping its TTL."""
    redis = get_redis()
    generations, meta, value = redis.get(key).split(b"|", 2)
    old_expires, old_delta, old_limit = meta.split(b":")
    new_expires = b"%013d" % expires if expires is not None else old_expires
    new_limit = b"%d" % limit if limit is not None else old_limit
    new_delta = b"%d" % delta if delta is not None else old_delta
    meta = b":".join([new_expires, new_delta, new_limit])
    redis.set(key, b"|".join([generations, meta, value]), keepttl=True)


def expire(key: str, ago_ms: int = 1) -> None:
    """Make the entry stale, as if it had expired ``ago_ms`` ago."""
    rewrite(key, expires=redis_now_ms() - ago_ms)


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")
