"""Cache-aside reads of registered models by primary key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import suppress
from typing import Any, TypeVar

from django.db import models, router
from redis.exceptions import RedisError

from django_distcache import readthrough, stats
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches
from django_distcache.registry import ModelConfig, get_config

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
    values = readthrough.serializer().loads(data)
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
    key_pk = _normalize_pk(model, pk)
    using = using or router.db_for_read(model)
    base = config.object_base(key_pk)
    generation_keys = config.generation_keys
    manager = model._default_manager.db_manager(using)

    def load() -> M | None:
        return manager.filter(pk=pk).first()

    if pending_touches(using, generation_keys, base):
        instance = load()
    else:
        instance = readthrough.fetch(
            config.model._meta.label_lower,
            generation_keys,
            base,
            load,
            encode=lambda value: _encode_instance(config, value),
            decode=lambda data: _decode_instance(config, using, data),
        )
    if instance is None:
        raise model.DoesNotExist(f"{model._meta.object_name} matching pk={pk!r} does not exist.")
    return instance


def get_objects(model: type[M], pks: Iterable[Any], *, using: str | None = None) -> dict[Any, M]:
    """Many objects by primary key, like ``in_bulk``: one Redis round trip for the
    lookups, one query for all misses, one round trip to store them."""
    config = get_config(model)
    using = using or router.db_for_read(model)
    by_key = {_normalize_pk(model, pk): model._meta.pk.to_python(pk) for pk in pks}
    if not by_key:
        return {}
    generation_keys = config.generation_keys
    bases = {key_pk: config.object_base(key_pk) for key_pk in by_key}
    manager = model._default_manager.db_manager(using)
    namespace = model._meta.label_lower
    dirty = [k for k, base in bases.items() if pending_touches(using, generation_keys, base)]
    found: dict[Any, M] = {}
    if dirty:
        found.update(manager.in_bulk([by_key[k] for k in dirty]))
    clean = [k for k in by_key if k not in dirty]
    if not clean:
        return found
    token = readthrough.new_token()
    try:
        result = readthrough.read(generation_keys, [bases[k] for k in clean], token)
    except RedisError:
        found.update(manager.in_bulk([by_key[k] for k in clean]))
        return found
    suffix, answers = result[0], result[1:]
    owned, to_load = [], []
    for key_pk, answer in zip(clean, answers, strict=True):
        if isinstance(answer, bytes):
            stats.record_hit(namespace, 0.0)
            instance = _decode_instance(config, using, answer)
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
    found.update(loaded)
    loaded_by_key = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
    items = []
    for key_pk in owned:
        encoded = _encode_instance(config, loaded_by_key.get(key_pk))
        if encoded is not None:
            data, timeout = encoded
            items.append((bases[key_pk], token, data, readthrough.ttl_ms(timeout)))
    with suppress(RedisError):
        stats.record_set(namespace, readthrough.store(generation_keys, suffix, items))
    return found
