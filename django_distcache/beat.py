"""Ready Celery settings: the beat schedule of the flush and warm tasks, and routes.

In the project's settings::

    from django_distcache.beat import BEAT_SCHEDULE, TASK_ROUTES
    CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE}
    CELERY_TASK_ROUTES = {**TASK_ROUTES}
"""

from __future__ import annotations

from typing import Any

FLUSH_TASK = "django_distcache.flush_write_behind"
WARM_TASK = "django_distcache.warm_cache"
SNAPSHOT_TASK = "django_distcache.record_stats_snapshot"
REPLAY_TASK = "django_distcache.replay_invalidations"


def beat_schedule(
    flush_every: float = 5.0,
    queue: str = "distcache",
    warm_every: float | None = None,
    warmers: list[str] | None = None,
    snapshot_every: float | None = 60.0,
    replay_every: float = 10.0,
    warm_parts: int = 1,
) -> dict[str, dict[str, Any]]:
    """Beat entries: a flush every ``flush_every`` seconds, the outbox replay (invalidations
    that did not reach Redis, and the check that Redis lost no state) every
    ``replay_every`` seconds, a statistics snapshot for the dashboard's charts every
    ``snapshot_every`` seconds (None: none) and, if ``warm_every`` is given, the warmers
    (all, or ``warmers``) every ``warm_every``, split into ``warm_parts`` tasks that as many
    workers share (each chunk of objects is warmed by one of them)."""
    schedule: dict[str, dict[str, Any]] = {
        "distcache-flush-write-behind": {
            "task": FLUSH_TASK,
            "schedule": flush_every,
            # A flush left in the queue longer than its interval is superseded by the next.
            "options": {"queue": queue, "expires": max(flush_every * 2, 10)},
        },
        "distcache-replay-invalidations": {
            "task": REPLAY_TASK,
            "schedule": replay_every,
            "options": {"queue": queue, "expires": max(replay_every * 2, 10)},
        },
    }
    if snapshot_every is not None:
        schedule["distcache-stats-snapshot"] = {
            "task": SNAPSHOT_TASK,
            "schedule": snapshot_every,
            "options": {"queue": queue, "expires": snapshot_every},
        }
    if warm_every is not None:
        if warm_parts < 1:
            raise ValueError(f"warm_parts must be at least 1, not {warm_parts}")
        for part in range(warm_parts):
            entry = {
                "task": WARM_TASK,
                "schedule": warm_every,
                "args": (warmers,),
                "options": {"queue": queue, "expires": warm_every},
            }
            if warm_parts == 1:
                schedule["distcache-warm-cache"] = entry
            else:
                entry["kwargs"] = {"part": part, "parts": warm_parts}
                schedule[f"distcache-warm-cache-{part + 1}of{warm_parts}"] = entry
    return schedule


# A flush every 5 seconds, the outbox replay every 10 and a snapshot every minute on
# the "distcache" queue.
BEAT_SCHEDULE = beat_schedule()

TASK_ROUTES = {"django_distcache.*": {"queue": "distcache"}}
