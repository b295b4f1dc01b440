"""Cache-aside reads of registered models by primary key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import suppress
from typing import Any, TypeVar, cast

from django.db import models, router
from django.db.models.base import ModelState
from redis.exceptions import RedisError

from django_distcache import hotkeys, readthrough, stats
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches
from django_distcache.registry import ModelConfig, get_config
from django_distcache.writebehind.overlay import overlay

M = TypeVar("M", bound=models.Model)

# The stored form of "no such row".
MISSING = b"-"


def _encode_instance(config: ModelConfig, instance: models.Model | None) -> Any:
    conf = get_settings()
    if instance is None:
        return (MISSING, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    values = [instance.__dict__[name] for name in config.attnames]
    return readthrough.serializer().dumps(values), config.effective_timeout


def _decode_instance(config: ModelConfig, using: str, data: bytes) -> models.Model | None:
    if data == MISSING:
        return None
    values = config.serializer.loads(data)
    if config.plain_init:
        # What Model.from_db does for a full row, minus __init__'s argument handling.
        instance = config.model.__new__(config.model)
        instance.__dict__.update(zip(config.attnames, values, strict=True))
        instance._state = ModelState()
        instance._state.adding = False
        instance._state.db = using
        return instance
    return config.model.from_db(using, config.attnames, values)


def _normalize_pk(model: type[models.Model], pk: Any) -> Any:
    value = model._meta.pk.to_python(pk)
    # UUID keys spell the same way however they were given.
    return value.hex if isinstance(value, uuid.UUID) else value


def get_object(model: type[M], pk: Any, *, using: str | None = None) -> M:
    """``model.objects.get(pk=pk)`` through the cache; raises ``model.DoesNotExist``.

    A hit costs one Redis round trip. Inside a transaction that wrote this object
    (or a model it depends on) the database is read and nothing is cached.
    """
    config = get_config(model)
    using = using or router.db_for_read(model)
    instance = _read_object(config, _normalize_pk(model, pk), pk, using)
    if instance is None:
        raise model.DoesNotExist(  # type: ignore[attr-defined]
            f"{model._meta.object_name} matching pk={pk!r} does not exist."
        )
    return cast(M, instance)


def _read_object(config: ModelConfig, key_pk: Any, pk: Any, using: str) -> models.Model | None:
    key = config.object_base(key_pk)
    generation_keys = config.generation_keys

    def load() -> models.Model | None:
        instance = config.model._default_manager.db_manager(using).filter(pk=pk).first()
        if config.write_behind:
            # A transaction that saved the row does not see the writes its save set aside.
            marks = not pending_touches(using, (), key)
            overlay(config.model, {key_pk: instance}, using, marks=marks)
        return instance

    hotkeys.record(config.namespace, key_pk)
    if pending_touches(using, generation_keys, key):
        return load()
    return readthrough.fetch(
        config.namespace,
        generation_keys,
        key,
        load,
        encode=lambda value: _encode_instance(config, value),
        decode=lambda data: _decode_instance(config, using, data),
    )


def get_objects(model: type[M], pks: Iterable[Any], *, using: str | None = None) -> dict[Any, M]:
    """Many objects by primary key, like ``in_bulk``.

    All hits: one Redis round trip. Misses: one more to take their leases, one query
    for all of them, one round trip to store them.
    """
    config = get_config(model)
    using = using or router.db_for_read(model)
    by_key = {_normalize_pk(model, pk): model._meta.pk.to_python(pk) for pk in pks}
    if not by_key:
        return {}
    generation_keys = config.generation_keys
    keys = {key_pk: config.object_base(key_pk) for key_pk in by_key}
    manager = model._default_manager.db_manager(using)
    namespace = model._meta.label_lower
    hotkeys.record_many(namespace, by_key)
    found: dict[Any, Any] = {}
    dirty = [k for k, key in keys.items() if pending_touches(using, generation_keys, key)]
    if dirty:
        rows = manager.in_bulk([by_key[k] for k in dirty])
        if config.write_behind:
            overlay(
                model,
                {_normalize_pk(model, pk): obj for pk, obj in rows.items()},
                using,
                marks=False,
            )
        found.update(rows)
    clean = [k for k in by_key if k not in dirty]
    if not clean:
        return found
    try:
        current = readthrough.read_current(generation_keys, [keys[k] for k in clean])
    except RedisError:
        found.update(manager.in_bulk([by_key[k] for k in clean]))
        return found
    missed = []
    for key_pk, data in zip(clean, current, strict=True):
        if data is None:
            missed.append(key_pk)
            continue
        stats.record_hit(namespace, 0.0)
        instance = _decode_instance(config, using, data)
        if instance is not None:
            found[instance.pk] = instance
    if not missed:
        return found
    token = readthrough.new_token()
    try:
        generations, *answers = readthrough.read_or_lease(
            generation_keys, [keys[k] for k in missed], token
        )
    except RedisError:
        found.update(manager.in_bulk([by_key[k] for k in missed]))
        return found
    owned, to_load = [], []
    for key_pk, answer in zip(missed, answers, strict=True):
        if isinstance(answer, bytes):
            instance = _decode_instance(config, using, readthrough.data_of(answer))
            if instance is not None:
                found[instance.pk] = instance
            continue
        stats.record_miss(namespace, 0.0)
        to_load.append(key_pk)
        if answer == readthrough.LEASE_TAKEN:
            owned.append(key_pk)
    if not to_load:
        return found
    loaded = manager.in_bulk([by_key[k] for k in to_load])
    loaded_by_key = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
    if config.write_behind:
        overlay(model, dict(loaded_by_key), using)
    found.update(loaded)
    items = []
    for key_pk in owned:
        encoded = _encode_instance(config, loaded_by_key.get(key_pk))
        if encoded is not None:
            data, timeout = encoded
            items.append((keys[key_pk], token, data, readthrough.ttl_ms(timeout)))
    with suppress(RedisError):
        stats.record_set(namespace, readthrough.store(generation_keys, generations, items))
    return found
