"""Model instances in the near cache: kept as their field values, rebuilt fresh on each hit."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import IntegerField
from django.db.models.base import ModelState

from django_distcache import hotkeys, stats
from django_distcache.conf import get_settings
from django_distcache.keys import pk_part, pk_text
from django_distcache.reads.copies import fresh, is_immutable, size_of
from django_distcache.reads.near import Entry, near_cache
from django_distcache.reads.own_writes import touched
from django_distcache.registry import ModelConfig

# What L1 keeps for "no such row".
NO_ROW = None
# What ``hit`` answers when L1 cannot serve the read.
MISSED: Any = object()

# An L1 hit counts toward hot keys about once in HOT_KEY_SAMPLE, with that weight.
# NOTE: counting every hit would cost a lock and a Counter update, a fifth of a hit.
HOT_KEY_SAMPLE = 16
_unsampled = 0


def freeze(
    config: ModelConfig, instance: models.Model | None
) -> tuple[Any, Any, int, float | None] | None:
    """(what L1 keeps, what a hit copies, size, time to live) of ``instance``, or None
    to keep nothing.

    L1 keeps the field values by attribute name and whether instances may be built
    without ``__init__``. Values a caller could change (a JSONField's dict) are copied
    now, so the instance handed to this caller shares nothing with what L1 keeps, and
    on each hit (their names are what a hit copies).
    """
    if instance is None:
        conf = get_settings()
        return (NO_ROW, (), 16, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    state = instance.__dict__
    try:
        fields = {name: state[name] for name in config.attnames}
    except KeyError:  # a deferred field: served as loaded, not kept
        return None
    mutable = tuple(name for name, value in fields.items() if not is_immutable(value))
    for name in mutable:
        fields[name] = fresh(fields[name])
    # NOTE: whether __init__ may be skipped is decided at fill time, not on each hit
    # (it costs as much as the rest of a hit): a pre_init or post_init receiver
    # connected later applies to instances filled after it.
    # The model it was decided for: a proxy sharing the row's entry decides for itself.
    kept = (fields, config.model if config.plain_init else None)
    # The attribute names are shared with the model's fields: only the dict is counted.
    size = sys.getsizeof(fields) + sum(size_of(value) for value in fields.values())
    return kept, mutable, size, config.effective_timeout


def thaw(config: ModelConfig, using: str, entry: Entry) -> models.Model | None:
    """A new instance of the kept row (what ``Model.from_db`` builds), or None."""
    if entry.value is NO_ROW:
        return None
    fields, plain_model = entry.value
    if plain_model is config.model:
        state = ModelState()
        state.adding = False
        state.db = using
        instance = plain_model.__new__(plain_model)
        # NOTE: one dict built in C; setting attributes one by one costs twice as much.
        instance.__dict__ = attributes = {"_state": state, **fields}
        for name in entry.copies:
            attributes[name] = fresh(attributes[name])
        return instance
    values = [fresh(fields[name]) if name in entry.copies else fields[name] for name in fields]
    return config.model.from_db(using, config.attnames, values)


@dataclass(slots=True)
class _Plan:
    """What every hit of one model needs, worked out once per registration and settings."""

    config: ModelConfig
    conf: Any
    prefixes: dict[str, str]  # database alias -> what the keys of its rows begin with
    generation_keys: tuple[str, ...]
    namespace: str
    # Whether a non-negative int pk is written in keys as str(pk) (pk_text's answer).
    int_pk: bool
    record_hit: Callable[[], None]


_plans: dict[type[models.Model], _Plan] = {}
# A forked child starts its own statistics thread, which a plan starts when it is made.
os.register_at_fork(after_in_child=_plans.clear)


def _plan(config: ModelConfig) -> _Plan:
    field = config.model._meta.pk
    plan = _plans[config.model] = _Plan(
        config,
        get_settings(),
        {},
        config.generation_keys,
        config.namespace,
        # An integer field whose to_python is IntegerField's: int(pk).
        isinstance(field, IntegerField) and type(field).to_python is IntegerField.to_python,
        stats.near_hit_recorder(config.namespace),
    )
    return plan


def hit(config: ModelConfig, pk: Any, using: str) -> Any:
    """A fresh instance of row ``pk`` (None: no such row) from the near cache, or MISSED:
    L1 does not hold it, or the transaction open on ``using`` wrote it or its model."""
    global _unsampled
    plan = _plans.get(config.model)
    if plan is None or plan.config is not config or plan.conf is not get_settings():
        plan = _plan(config)  # registered or settings changed since
    prefix = plan.prefixes.get(using)
    if prefix is None:
        prefix = plan.prefixes[using] = config.object_prefix(using)
    # NOTE: keys.pk_part costs the field's to_python, twice; an int needs neither.
    if plan.int_pk and type(pk) is int and pk >= 0:
        key = prefix + str(pk)
    else:
        key = prefix + pk_part(config.model, pk)
    if touched(using, plan.generation_keys, key):
        return MISSED
    entry = near_cache().lookup(key)
    if entry is None:
        return MISSED
    plan.record_hit()
    _unsampled -= 1
    if _unsampled <= 0:
        _count_hot_key(plan.namespace, config.model, pk)
    return thaw(config, using, entry)


def _count_hot_key(namespace: str, model: type[models.Model], pk: Any) -> None:
    global _unsampled
    # The next sample is drawn at random, so that no pattern in the reads hides a key.
    _unsampled = random.randint(1, 2 * HOT_KEY_SAMPLE - 1)
    hotkeys.record(namespace, pk_text(model, pk), HOT_KEY_SAMPLE)
