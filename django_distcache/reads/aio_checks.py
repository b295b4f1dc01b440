"""System check of the async API's setting: ASYNC_MAX_CONNECTIONS (distcache.E080)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from django_distcache.conf import get_settings


@register(Tags.caches)
def check_async_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Error]:
    """ASYNC_MAX_CONNECTIONS is a positive whole number."""
    if not isinstance(getattr(settings, "DISTCACHE", {}), dict):
        return []  # distcache.E001
    value = get_settings().ASYNC_MAX_CONNECTIONS
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return []
    return [
        Error(
            f"DISTCACHE['ASYNC_MAX_CONNECTIONS'] must be a positive whole number, got {value!r}.",
            hint="The Redis connections of one event loop (one ASGI process); 10 is plenty "
            "for hundreds of concurrent requests.",
            id="distcache.E080",
        )
    ]
