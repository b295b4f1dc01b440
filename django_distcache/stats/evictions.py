"""Optional listener counting evicted keys per namespace from keyspace notifications.

Redis tells of evictions only when the operator allows it: ``notify-keyspace-events``
must hold ``E`` (keyevent channel) and ``e`` (evicted) or ``A``. One listener is enough
(run ``manage.py distcache_evictions``): on a Redis Cluster it listens to every primary
(``redis/evictions.py``). It announces itself with a heartbeat key so the dashboard can
say whether per-namespace evictions are counted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import suppress
from typing import Any

from django_distcache import keys
from django_distcache.redis import evictions as feed
from django_distcache.redis.errors import RedisError
from django_distcache.stats import recorder
from django_distcache.stats.namespaces import namespace_of_key

logger = logging.getLogger("django_distcache")

HEARTBEAT_SECONDS = 5.0


def heartbeat_key() -> str:
    return f"{keys.prefix()}:stats:evictions-listener"


def notifications_enabled(config_value: str) -> bool:
    """Whether a ``notify-keyspace-events`` value publishes evictions on the keyevent channel."""
    return "E" in config_value and ("e" in config_value or "A" in config_value)


def listener_status() -> dict[str, Any]:
    """``{"running": bool, ...}`` from the listener's heartbeat (raises RedisError)."""
    raw = feed.read_heartbeat(heartbeat_key())
    if raw is None:
        return {"running": False}
    return {"running": True, **json.loads(raw)}


def _notify_setting() -> str | None:
    """The primaries' ``notify-keyspace-events``: the first that does not publish
    evictions, else the first; None if CONFIG is refused (then trust the operator)."""
    settings = [found for found in feed.notify_settings() if found is not None]
    off = [found for found in settings if not notifications_enabled(found)]
    return next(iter(off or settings), None)


def listen(stop: threading.Event | None = None, *, seconds: float | None = None) -> int:
    """Count evictions per namespace until ``stop`` is set or ``seconds`` pass.

    Counts go through the statistics recorder like any other event. Returns how
    many evictions were counted.
    """
    stop = stop or threading.Event()
    setting = _notify_setting()
    if setting is not None and not notifications_enabled(setting):
        logger.warning(
            "Redis notify-keyspace-events is %r: evictions are not published; "
            "set it to include 'Ee' to count evictions per namespace.",
            setting,
        )
    evicted = feed.EvictedKeys()
    deadline = None if seconds is None else time.monotonic() + seconds
    counted = 0
    next_beat = 0.0
    started = time.time()
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            now = time.monotonic()
            if now >= next_beat:
                beat = {"since": started, "notify_keyspace_events": setting}
                feed.write_heartbeat(heartbeat_key(), json.dumps(beat), int(HEARTBEAT_SECONDS * 3))
                next_beat = now + HEARTBEAT_SECONDS
            key = evicted.next_key(timeout=0.5)
            if key is not None:
                recorder.count(namespace_of_key(key), "evictions")
                counted += 1
    finally:
        evicted.close()
        recorder.flush()
        with suppress(RedisError):
            feed.drop_heartbeat(heartbeat_key())
    return counted
