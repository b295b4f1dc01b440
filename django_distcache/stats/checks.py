"""System checks of the statistics and health settings, ids distcache.E020 and up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import Error, Tags, register

from django_distcache.checks import is_number, positive_number_errors
from django_distcache.conf import get_settings


@register(Tags.caches)
def check_stats_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Error]:
    """STATS_* must be positive numbers, HEALTH_* thresholds sensible, switches booleans."""
    conf = get_settings()
    errors = positive_number_errors(
        conf,
        ("STATS_FLUSH_INTERVAL", "STATS_HISTORY_RETENTION"),
        "distcache.E020",
        "a positive number of seconds",
    )
    every = conf.STATS_FLUSH_EVERY
    if not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
        errors.append(
            Error(
                f"DISTCACHE['STATS_FLUSH_EVERY'] must be a whole number of events of at least 1, "
                f"got {every!r}.",
                id="distcache.E020",
            )
        )
    for name in ("HEALTH_MIN_HIT_RATE", "HEALTH_MAX_MEMORY"):
        value = getattr(conf, name)
        if value is not None and not (is_number(value) and 0 <= value <= 1):
            errors.append(
                Error(
                    f"DISTCACHE['{name}'] must be a fraction from 0 to 1, or None to turn the "
                    f"warning off, got {value!r}.",
                    id="distcache.E021",
                )
            )
    age = conf.HEALTH_MAX_BACKLOG_AGE
    if age is not None and not (is_number(age) and age > 0):
        errors.append(
            Error(
                f"DISTCACHE['HEALTH_MAX_BACKLOG_AGE'] must be a positive number of seconds, "
                f"or None, got {age!r}.",
                id="distcache.E021",
            )
        )
    reads = conf.HEALTH_MIN_READS
    if not (isinstance(reads, int) and not isinstance(reads, bool) and reads >= 0):
        errors.append(
            Error(
                f"DISTCACHE['HEALTH_MIN_READS'] must be a whole number, got {reads!r}.",
                id="distcache.E021",
            )
        )
    for name in ("STATS_ENABLED", "HEALTH_WARN_ON_EVICTIONS"):
        value = getattr(conf, name)
        if not isinstance(value, bool):
            errors.append(
                Error(
                    f"DISTCACHE['{name}'] must be True or False, got {value!r}.",
                    id="distcache.E022",
                )
            )
    return errors
