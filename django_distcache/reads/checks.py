"""System checks of the near cache's settings (distcache.E090)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from django_distcache.checks import is_number
from django_distcache.conf import get_settings


@register(Tags.caches)
def check_near_cache_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """NEAR_CACHE_MAX_ENTRIES and _MAX_BYTES are whole numbers >= 0, _MAX_AGE is positive."""
    if not isinstance(getattr(settings, "DISTCACHE", {}), dict):
        return []  # distcache.E001
    conf = get_settings()
    errors = []
    for name in ("NEAR_CACHE_MAX_ENTRIES", "NEAR_CACHE_MAX_BYTES"):
        value = getattr(conf, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            errors.append(
                Error(
                    f"DISTCACHE['{name}'] must be a whole number >= 0, got {value!r}.",
                    hint="0 keeps nothing in the near cache.",
                    id="distcache.E090",
                )
            )
    age = conf.NEAR_CACHE_MAX_AGE
    if not (is_number(age) and age > 0):
        errors.append(
            Error(
                f"DISTCACHE['NEAR_CACHE_MAX_AGE'] must be a positive number of seconds, "
                f"got {age!r}.",
                hint="It bounds how stale an entry can be if invalidation messages are lost.",
                id="distcache.E090",
            )
        )
    return errors
