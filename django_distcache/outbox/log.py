"""Saying once what happened to invalidations that did not reach Redis, and counting them."""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("django_distcache")
NAMESPACE = "redis"
_quiet = threading.Event()  # set after the first "kept" message of an outage


def _count(event: str, amount: int = 1) -> None:
    from django_distcache.stats import recorder

    if amount and recorder.enabled():
        recorder.count(NAMESPACE, event, amount)


def describe(payload: dict[str, Any], limit: int = 5) -> str:
    keys = [*payload.get("generations", ()), *payload.get("entries", ())]
    shown = ", ".join(keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{shown}{more}" or "nothing"


def report_kept(payload: dict[str, Any], why: Any) -> None:
    """An invalidation waits in the outbox; logged once until a replay succeeds. The
    breaker's probe runs at once: if Redis is back, the replay applies it now."""
    from django_distcache.redis import breaker

    _count("outbox_kept")
    breaker.cache_breaker().wake_probe()
    if not _quiet.is_set():
        _quiet.set()
        logger.warning(
            "django_distcache: an invalidation did not reach Redis (%s); it waits in the "
            "outbox and is applied before the cache is used again: %s",
            why,
            describe(payload),
        )


def report_lost(payload: dict[str, Any], why: str) -> None:
    """An invalidation that neither Redis nor the outbox could take: always logged."""
    _count("invalidations_lost")
    logger.error(
        "django_distcache: an invalidation was lost (%s); these entries may be served "
        "until their TTL: %s",
        why,
        describe(payload),
    )


def report_replayed(rows: int, emptied: bool) -> None:
    _quiet.clear()
    _count("outbox_replayed", rows)
    if emptied:
        _count("cache_emptied")


def report_lost_state(alias: str, redis_rounds: int, db_rounds: int) -> None:
    _count("lost_state")
    logger.warning(
        "django_distcache: Redis has lost invalidations (outbox floor of %s: %d in Redis, "
        "%d in the database; restarted from an older snapshot or a promoted replica); "
        "every cached entry is dropped",
        alias,
        redis_rounds,
        db_rounds,
    )


def report_cluster_recovered(alias: str) -> None:
    """A Redis Cluster's recovery: one node's floor cannot vouch for the others."""
    _count("lost_state")
    logger.warning(
        "django_distcache: Redis Cluster recovered (for the outbox of %s); a node may have "
        "gone back in time (a promoted replica), so every cached entry is dropped",
        alias,
    )


def reset() -> None:
    """Say the next "kept" message again (settings changed, tests)."""
    _quiet.clear()
