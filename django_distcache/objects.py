"""Cache-aside reads of registered models by primary key."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypeVar, cast

from django.db import models, router
from django.db.models.base import ModelState

from django_distcache import hotkeys, readthrough
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches
from django_distcache.invalidation.replicas import read_alias
from django_distcache.keys import pk_text
from django_distcache.registry import ModelConfig, get_config
from django_distcache.writebehind.overlay import overlay

M = TypeVar("M", bound=models.Model)
logger = logging.getLogger("django_distcache")

# The stored form of "no such row".
MISSING = b"-"


def _encode_instance(config: ModelConfig, instance: models.Model | None) -> Any:
    conf = get_settings()
    if instance is None:
        return (MISSING, conf.MISSING_TIMEOUT) if conf.CACHE_MISSING else None
    try:
        values = [instance.__dict__[name] for name in config.attnames]
        return readthrough.serializer().dumps(values), config.effective_timeout
    except (KeyError, TypeError, ValueError) as error:
        # A deferred field or a value the codec cannot encode (distcache.W040): the
        # object is served as loaded, uncached.
        logger.warning("django_distcache served %s uncached: %r", config.namespace, error)
        return None


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


def _normalize_pk(model: type[models.Model], pk: Any) -> str:
    """The one spelling of ``pk`` used in every key (keys.pk_text)."""
    return pk_text(model, pk)


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
    key = config.object_base(key_pk, using)
    generation_keys = config.generation_keys

    def load() -> models.Model | None:
        source = read_alias(using, generation_keys, [key])
        instance = config.model._default_manager.db_manager(source).filter(pk=pk).first()
        # Buffered writes are laid over the row, unless this transaction saved it.
        if config.write_behind and not pending_touches(using, (), key):
            overlay(config.model, {key_pk: instance}, using)
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

    All hits: one Redis round trip, which also takes the leases of the misses; then one
    query for the misses leased here and one round trip to store them. Keys whose lease
    another process holds are waited for, like ``get_object``.
    """
    config = get_config(model)
    using = using or router.db_for_read(model)
    by_key = {_normalize_pk(model, pk): model._meta.pk.to_python(pk) for pk in pks}
    if not by_key:
        return {}
    generation_keys = config.generation_keys
    keys = {key_pk: config.object_base(key_pk, using) for key_pk in by_key}
    manager = model._default_manager.db_manager(using)
    namespace = model._meta.label_lower
    hotkeys.record_many(namespace, by_key)
    found: dict[Any, Any] = {}
    dirty = [k for k, key in keys.items() if pending_touches(using, generation_keys, key)]
    if dirty:
        found.update(manager.in_bulk([by_key[k] for k in dirty]))
    clean = [k for k in by_key if k not in dirty]
    if not clean:
        return found
    by_base = {keys[k]: k for k in clean}

    def load(bases: list[str]) -> dict[str, Any]:
        source = read_alias(using, generation_keys, bases)
        source_manager = model._default_manager.db_manager(source)
        loaded = source_manager.in_bulk([by_key[by_base[base]] for base in bases])
        loaded_by_key = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
        if config.write_behind:
            overlay(model, dict(loaded_by_key), using)
        return {base: loaded_by_key.get(by_base[base]) for base in bases}

    entries = readthrough.fetch_many(
        namespace,
        generation_keys,
        list(by_base),
        load,
        encode=lambda value: _encode_instance(config, value),
        decode=lambda data: _decode_instance(config, using, data),
    )
    found.update((instance.pk, instance) for instance in entries.values() if instance is not None)
    return found
