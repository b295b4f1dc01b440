"""Model instances in the near cache: kept as their field values, rebuilt fresh on each hit."""

from __future__ import annotations

import os
import sys
import threading
from asyncio import _get_running_loop
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from random import random as _random
from time import monotonic
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import IntegerField
from django.db.models.base import ModelState

from django_distcache import hotkeys, stats
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches
from django_distcache.invalidation.transactions import _MANUAL
from django_distcache.keys import pk_part, pk_text
from django_distcache.reads import near
from django_distcache.reads.copies import copier, fresh, is_immutable, size_of
from django_distcache.reads.databases import read_database, routes_reads
from django_distcache.reads.near import Entry, NearCache, near_cache

# NOTE: _configs, the registrations themselves, is read on every hit (one dict lookup)
# to see that a plan's registration is still the model's.
from django_distcache.registry import ModelConfig, _configs, find_config
from django_distcache.stats import tally

# What L1 keeps for "no such row".
NO_ROW = None
# What ``hit`` answers when L1 cannot serve the read.
MISSED: Any = object()

# An L1 hit counts toward hot keys about once in HOT_KEY_SAMPLE, with that weight.
# NOTE: counting every hit would cost a lock and a Counter update, a fifth of a hit.
HOT_KEY_SAMPLE = 16


def freeze(
    config: ModelConfig, instance: models.Model | None
) -> tuple[Any, Any, int, float | None] | None:
    """(what L1 keeps, what a hit copies, size, time to live) of ``instance``, or None
    to keep nothing.

    L1 keeps the instance's ``__dict__`` as a hit starts it (``_state`` first, then the
    field values by attribute name) and whether instances may be built without
    ``__init__``. Values a caller could change (a JSONField's dict) are copied now, so
    the instance handed to this caller shares nothing with what L1 keeps, and on each
    hit: what a hit copies is (attribute name, how to copy it) pairs.
    """
    if instance is None:
        conf = get_settings()
        return (NO_ROW, (), 16, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    state = instance.__dict__
    try:
        # NOTE: "_state" first, as __init__ sets it: a hit copies this dict (one C call)
        # and puts the instance's own ModelState there.
        fields = {"_state": None, **{name: state[name] for name in config.attnames}}
    except KeyError:  # a deferred field: served as loaded, not kept
        return None
    copies = []
    for name, value in fields.items():
        if not is_immutable(value):
            fields[name] = fresh(value)
            copies.append((name, copier(fields[name])))
    # NOTE: whether __init__ may be skipped is decided at fill time, not on each hit
    # (it costs as much as the rest of a hit): a pre_init or post_init receiver
    # connected later applies to instances filled after it.
    # The model it was decided for: a proxy sharing the row's entry decides for itself.
    kept = (fields, config.model if config.plain_init else None)
    # The attribute names are shared with the model's fields: only the dict is counted.
    size = sys.getsizeof(fields) + sum(size_of(value) for value in fields.values())
    return kept, tuple(copies), size, config.effective_timeout


def thaw(config: ModelConfig, using: str, entry: Entry) -> models.Model | None:
    """A new instance of the kept row (what ``Model.from_db`` builds), or None."""
    if entry.value is NO_ROW:
        return None
    fields, plain_model = entry.value
    if plain_model is config.model:
        return _build(plain_model, fields, entry.copies, using)
    copied = dict(fields)
    for name, copy in entry.copies:
        copied[name] = copy(copied[name])
    values = [copied[name] for name in config.attnames]
    return config.model.from_db(using, config.attnames, values)


def _build(
    model: type[models.Model], fields: dict[str, Any], copies: Any, using: str
) -> models.Model:
    """What ``Model.from_db`` builds of a full row, without ``__init__`` (every near-cache
    hit of a plain model builds its instance here)."""
    state = ModelState()
    state.adding = False
    state.db = using
    instance = _new(model)
    instance.__dict__ = attributes = fields.copy()
    attributes["_state"] = state
    for name, copy in copies:
        attributes[name] = copy(attributes[name])
    return instance


_new = object.__new__
# How many key texts a plan remembers per database before it forgets them all.
KEYS_REMEMBERED = 4096


@dataclass(slots=True)
class _Plan:
    """What every hit of one model needs, worked out once per registration and near
    cache (the near cache is made anew whenever DISTCACHE or CACHES change)."""

    model: type[models.Model]
    config: ModelConfig
    # The registration it was made from, and the model it is registered under (a
    # proxy's concrete model): another registration makes another plan.
    registered: ModelConfig | None
    concrete: type[models.Model]
    cache: NearCache
    generation_keys: tuple[str, ...]
    namespace: str
    # The statistics' near_hits field of this model (tally), None when they are off.
    near_hits: tuple[str, str, str] | None
    # router.routers when made, and what a read without using= reads with them (None:
    # a router routes reads: ask it).
    routers: Any
    read_database: str | None
    # Whether a non-negative int pk is written in keys as str(pk) (pk_text's answer).
    int_pk: bool
    # database alias -> (pk -> its key), for pks that are an int or a str.
    keys: dict[str, dict[Any, str]]
    # Whether hits are counted toward hot keys (HOT_KEYS_SIZE), and how many are left
    # before the next one is.
    hot_keys: bool = True
    unsampled: int = 0


_plans: dict[type[models.Model], _Plan] = {}
# Hits sampled for hot keys (plan, pk), until the hot keys' next flush counts them; at
# most this many (a flusher that stopped loses the oldest).
_samples: deque[tuple[_Plan, Any]] = deque(maxlen=65_536)


def _forget_in_child() -> None:
    # A forked child starts its own statistics and hot-key threads, which a plan starts
    # when it is made; the parent's samples are the parent's to count.
    _plans.clear()
    _samples.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _plan(model: type[models.Model]) -> _Plan | None:
    """A new plan for ``model``, or None: not registered, or not with the near cache."""
    config = find_config(model)
    if config is None or not config.near_cache:
        return None
    cache = near_cache()  # before the settings are read: made anew when they change
    field = model._meta.pk
    concrete = model._meta.concrete_model or model
    counted = stats.near_hits_field(config.namespace)
    hotkeys.add_source(_drain_samples)
    plan = _plans[model] = _Plan(
        model,
        config,
        _configs.get(concrete),
        concrete,
        cache,
        config.generation_keys,
        config.namespace,
        counted,
        router.routers,
        None if routes_reads() else DEFAULT_DB_ALIAS,
        # An integer field whose to_python is IntegerField's: int(pk).
        isinstance(field, IntegerField) and type(field).to_python is IntegerField.to_python,
        {},
        bool(get_settings().HOT_KEYS_SIZE),
    )
    return plan


def _key(plan: _Plan, using: str, pk: Any) -> str:
    """The key of row ``pk`` read from ``using``, remembered for an int or str ``pk``."""
    prefix = plan.config.object_prefix(using)
    # NOTE: keys.pk_part costs the field's to_python, twice; an int needs neither.
    if plan.int_pk and type(pk) is int and pk >= 0:
        key = prefix + str(pk)
    else:
        key = prefix + pk_part(plan.model, pk)
    if type(pk) is int or type(pk) is str:
        # Only these: 1 == 1.0 == True, and a CharField pk spells them differently.
        keys = plan.keys.get(using)
        if keys is None or len(keys) >= KEYS_REMEMBERED:
            keys = plan.keys[using] = {}
        keys[pk] = key
    return key


def serve(model: type[models.Model], pk: Any, using: str | None) -> Any:
    """``get_object``'s near-cache hit: a fresh instance of row ``pk`` (None: no such
    row), or MISSED: not registered with the near cache, L1 does not hold it, or the
    transaction open on the database read wrote it or what it depends on.

    NOTE: every hit's cost, interleaved with network reads, is mostly memory the CPU's
    caches lost meanwhile: the calls of the hit path (the plan, the key, the
    transaction check, the near cache's lookup, the statistics, the copy) are written
    out here, and what they need is kept in the plan, one dict lookup away.
    """
    plan = _plans.get(model)
    if (
        plan is None
        or plan.cache is not near._cache
        or plan.registered is not _configs.get(plan.concrete)
    ):
        plan = _plan(model)  # registered or settings changed since, or the first read
        if plan is None:
            return MISSED
    if not plan.config.near_cache:
        return MISSED
    if not using:
        using = plan.read_database if router.routers is plan.routers else None
        if using is None:
            using = read_database(model)
    keys = plan.keys.get(using)
    key = keys.get(pk) if keys is not None and (type(pk) is int or type(pk) is str) else None
    if key is None:
        key = _key(plan, using, pk)
    # The open transaction's own writes, asked without asgiref (see own_writes): outside
    # an event loop the thread's connections are a threading.local, and a thread with
    # no connection on ``using``, or none in a transaction, wrote nothing.
    storage = (
        connections._connections.__dict__.get("_storage")  # type: ignore[attr-defined]
        if _get_running_loop() is None
        else None
    )
    if type(storage) is threading.local:
        connection = getattr(storage, using, None)
        if (
            connection is not None
            and (connection.in_atomic_block or getattr(connection, _MANUAL, None) is not None)
            and pending_touches(using, plan.generation_keys, key)
        ):
            return MISSED
    elif pending_touches(using, plan.generation_keys, key):
        return MISSED
    # NearCache.lookup, written out.
    cache = plan.cache
    entry = cache.entries.get(key)
    if entry is None or monotonic() >= entry.expires:
        cache.misses += 1
        return MISSED
    generations = cache.generations
    for name, value in entry.generations:
        held = generations.get(name)
        if held is None or held[0] != value:
            cache.misses += 1
            return MISSED
    try:  # noqa: SIM105  (see NearCache.lookup)
        cache.entries.move_to_end(key)
    except KeyError:
        pass
    cache.hits += 1
    # stats.record_near_hit: tally.add, written out.
    counted = plan.near_hits
    if counted is not None:
        try:
            mine = tally._local.counts
        except AttributeError:
            mine = tally.counts()
        mine[counted] = mine.get(counted, 0) + 1
    # NOTE: counted on the plan: a module global's store is a dict insert.
    plan.unsampled -= 1
    if plan.unsampled <= 0:
        # The next sample is drawn at random, so that no pattern in the reads hides a
        # key. NOTE: kept, and counted at the hot keys' next flush: counting it here
        # (a lock, the key text, a Counter, all out of the CPU's caches) cost about
        # as much as a whole hit, once in 16 hits.
        plan.unsampled = 1 + int(_random() * (2 * HOT_KEY_SAMPLE - 1))
        if plan.hot_keys:
            _samples.append((plan, pk))
    # thaw, written out.
    kept = entry.value
    if kept is NO_ROW:
        return None
    fields, plain_model = kept
    if plain_model is not model:
        return thaw(plan.config, using, entry)
    return _build(model, fields, entry.copies, using)


def hit(config: ModelConfig, pk: Any, using: str) -> Any:
    """``serve`` for a model registered as ``config``, read from ``using``."""
    return serve(config.model, pk, using)


def _drain_samples() -> Iterator[tuple[str, str, int]]:
    """The hits sampled since the last call, as hotkeys.add_source wants them."""
    while True:
        try:
            plan, pk = _samples.popleft()
        except IndexError:
            return
        yield plan.namespace, pk_text(plan.model, pk), HOT_KEY_SAMPLE
