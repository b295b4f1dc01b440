"""System checks of the outage settings: REDIS_TIMEOUT, OUTBOX_REPLAY_LIMIT, the replay task."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_distcache.beat import REPLAY_TASK
from django_distcache.checks import is_number
from django_distcache.conf import get_settings


@register(Tags.caches)
def check_outage_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """REDIS_TIMEOUT and OUTBOX_REPLAY_LIMIT have usable values; beat replays the outbox."""
    if not isinstance(getattr(settings, "DISTCACHE", {}), dict):
        return []  # distcache.E001
    conf = get_settings()
    found: list[CheckMessage] = []
    timeout = conf.REDIS_TIMEOUT
    if timeout is not None and not (is_number(timeout) and timeout > 0):
        found.append(
            Error(
                f"DISTCACHE['REDIS_TIMEOUT'] must be a positive number of seconds or None, "
                f"got {timeout!r}.",
                hint="At most 1 s keeps requests from waiting on a sick Redis.",
                id="distcache.E060",
            )
        )
    limit = conf.OUTBOX_REPLAY_LIMIT
    if not (isinstance(limit, int) and not isinstance(limit, bool) and limit > 0):
        found.append(
            Error(
                f"DISTCACHE['OUTBOX_REPLAY_LIMIT'] must be a positive whole number, got {limit!r}.",
                id="distcache.E060",
            )
        )
    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
    if isinstance(schedule, dict) and not any(
        isinstance(entry, dict) and entry.get("task") == REPLAY_TASK for entry in schedule.values()
    ):
        found.append(
            Warning(
                f"CELERY_BEAT_SCHEDULE does not run {REPLAY_TASK}: acknowledged outbox rows "
                "are never deleted, and a Redis that lost state is noticed only by processes "
                "that saw it go.",
                hint="Include django_distcache.beat.BEAT_SCHEDULE (or beat_schedule()).",
                id="distcache.W060",
            )
        )
    return found
