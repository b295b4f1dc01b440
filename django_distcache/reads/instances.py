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
) -> tuple[Any, Any, int, float | None] | None:
    """(what L1 keeps, what a hit copies, size, time to live) of ``instance``, or None
    to keep nothing.

    L1 keeps the field values and whether instances may be built without ``__init__``.
    Values a caller could change (a JSONField's dict) are copied now, so the instance
    handed to this caller shares nothing with what L1 keeps, and on each hit (their
    positions are what a hit copies).
    """
    if instance is None:
        conf = get_settings()
        return (NO_ROW, (), 16, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    try:
        values = [instance.__dict__[name] for name in config.attnames]
    except KeyError:  # a deferred field: served as loaded, not kept
        return None
    mutable = tuple(i for i, value in enumerate(values) if not is_immutable(value))
    for i in mutable:
        values[i] = fresh(values[i])
    # NOTE: whether __init__ may be skipped is decided at fill time, not on each hit
    # (it costs as much as the rest of a hit): a pre_init or post_init receiver
    # connected later applies to instances filled after it.
    # The model it was decided for: a proxy sharing the row's entry decides for itself.
    kept = (tuple(values), config.model if config.plain_init else None)
    return kept, mutable, size_of(kept[0]), config.effective_timeout


def thaw(config: ModelConfig, using: str, entry: Entry) -> models.Model | None:
    """A new instance of the kept row (what ``Model.from_db`` builds), or None."""
    if entry.value is NO_ROW:
        return None
    values, plain_model = entry.value
    if entry.copies:
        values = list(values)
        for i in entry.copies:
            values[i] = fresh(values[i])
    if plain_model is config.model:
        instance = config.model.__new__(config.model)
        instance.__dict__.update(zip(config.attnames, values, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = using
        return instance
    return config.model.from_db(using, config.attnames, values)
