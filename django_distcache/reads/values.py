"""Function results in the near cache: kept decoded, copied on each hit if they could change."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT

from django_distcache.conf import get_settings
from django_distcache.reads.copies import fresh, is_immutable, size_of
from django_distcache.reads.near import Entry


def freeze(
    value: Any, timeout: float | object | None
) -> tuple[Any, bool, int, float | None] | None:
    """What L1 keeps of a result stored with ``timeout`` (Django's convention), or None."""
    seconds = get_settings().TIMEOUT if timeout is DEFAULT_TIMEOUT else timeout
    if isinstance(seconds, (int, float)) and seconds <= 0:
        return None  # stored nowhere
    copies = not is_immutable(value)
    kept = fresh(value) if copies else value
    return kept, copies, size_of(kept), seconds  # type: ignore[return-value]


def thaw(entry: Entry) -> Any:
    """The kept result, copied if a caller could change it."""
    return fresh(entry.value) if entry.copies else entry.value
