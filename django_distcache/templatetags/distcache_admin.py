"""Filters of the cache dashboard: times in the project's zone, durations in words."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def distcache_time(value: str | datetime | None) -> str:
    """An ISO timestamp or datetime as ``YYYY-MM-DD HH:MM:SS`` in the current time zone."""
    if not value:
        return "\N{EN DASH}"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if timezone.is_naive(moment):
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}"


@register.filter
def distcache_duration(seconds: int | float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``4m 10s`` or ``9s``."""
    if seconds is None:
        return "\N{EN DASH}"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


@register.filter
def distcache_hours(hours: int) -> str:
    """``1 hour``, ``6 hours``, ``1 day``, ``7 days``."""
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"
