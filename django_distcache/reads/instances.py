"""Model instances in the near cache: kept as their field values, rebuilt fresh on each hit."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.base import ModelState

from django_distcache.conf import get_settings
from django_distcache.reads.copies import fresh, is_immutable, size_of
from django_distcache.reads.near import Entry
from django_distcache.registry import ModelConfig

# What L1 keeps for "no such row".
NO_ROW = None


def freeze(
    config: ModelConfig, instance: models.Model | None
) -> tuple[Any, bool, int, float | None] | None:
    """(field values, whether a hit copies them, size, time to live) of ``instance``, or
    None to keep nothing.

    Values a caller could change (a JSONField's dict) are copied now, so the instance
    handed to this caller shares nothing with what L1 keeps.
    """
    if instance is None:
        conf = get_settings()
        return (NO_ROW, False, 16, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    try:
        values = tuple(instance.__dict__[name] for name in config.attnames)
    except KeyError:  # a deferred field: served as loaded, not kept
        return None
    copies = not is_immutable(values)
    if copies:
        values = fresh(values)
    return values, copies, size_of(values), config.effective_timeout


def thaw(config: ModelConfig, using: str, entry: Entry) -> models.Model | None:
    """A new instance of the kept row (what ``Model.from_db`` builds), or None."""
    values = entry.value
    if values is NO_ROW:
        return None
    if entry.copies:
        values = fresh(values)
    if config.plain_init:
        instance = config.model.__new__(config.model)
        instance.__dict__.update(zip(config.attnames, values, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = using
        return instance
    return config.model.from_db(using, config.attnames, values)
