"""Cache-aside reads of registered models by primary key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models
from django.db.models.base import ModelState

from django_distcache import hotkeys, stats
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches
from django_distcache.invalidation.replicas import read_alias
from django_distcache.keys import pk_text
from django_distcache.outbox.keys import with_epoch
from django_distcache.reads import front, instances, readthrough
from django_distcache.reads.databases import read_database
from django_distcache.reads.near import near_cache
from django_distcache.redis.client import buffer_shares_cache
from django_distcache.redis.errors import RedisError
from django_distcache.redis.readpath import read_with_peek
from django_distcache.registry import ModelConfig, get_config
from django_distcache.writebehind.overlay import lay_peeked, overlay, peek_call

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

    A hit costs one Redis round trip (none from the near cache, for a model registered
    with ``near_cache=True``). Inside a transaction that wrote this object
    (or a model it depends on) the database is read and nothing is cached.
    """
    instance = instances.serve(model, pk, using)
    if instance is instances.MISSED:
        config = get_config(model)
        using = using or read_database(model)
        instance = _read_object(config, _normalize_pk(model, pk), pk, using)
    if instance is None:
        raise model.DoesNotExist(  # type: ignore[attr-defined]
            f"{model._meta.object_name} matching pk={pk!r} does not exist."
        )
    # NOTE: not typing.cast: a call, on every hit.
    return instance  # type: ignore[no-any-return]


def _read_object(config: ModelConfig, key_pk: Any, pk: Any, using: str) -> models.Model | None:
    """The row through Redis (an L1 miss fills the near cache): not L1's hits, which
    ``instances.hit`` serves first."""
    key = config.object_base(key_pk, using)
    generation_keys = config.generation_keys

    def load() -> models.Model | None:
        source = read_alias(using, generation_keys, [key])
        return config.model._default_manager.db_manager(source).filter(pk=pk).first()

    hotkeys.record(config.namespace, key_pk)
    if pending_touches(using, generation_keys, key):
        instance = load()
    else:
        if config.write_behind and buffer_shares_cache():
            hits, _rest = _buffered_hits(config, using, {key: key_pk}, timed=True)
            if key_pk in hits:
                # The row's deferred writes are laid over it already.
                return hits[key_pk]

        def fetch() -> Any:
            return readthrough.fetch(
                config.namespace,
                generation_keys,
                key,
                load,
                encode=lambda value: _encode_instance(config, value),
                decode=lambda data: _decode_instance(config, using, data),
                policy=config.freshness,
                # A stale entry's refresh on a worker reads the row by its pk.
                describe=lambda _: _object_job(config, using, [key_pk]),
            )

        instance = _near_read(config, key, using, fetch) if config.near_cache else fetch()
    if config.write_behind:
        # Entries hold the database's row; deferred writes are laid over it on each
        # read, so a deferred write never costs the next read a database load.
        _lay_deferred_writes(config, {key_pk: instance}, using)
    return instance


def _near_read(config: ModelConfig, key: str, using: str, fetch: Any) -> Any:
    """After a near cache miss (``register(..., near_cache=True)``): read, then fill L1."""
    return front.read_missed(
        config.namespace,
        config.generation_keys,
        key,
        fetch,
        decode=lambda data: _decode_instance(config, using, data),
        freeze=lambda instance: instances.freeze(config, instance),
    )


def _buffered_hits(
    config: ModelConfig, using: str, by_base: dict[str, Any], *, timed: bool = False
) -> tuple[dict[Any, Any], dict[str, Any]]:
    """A write-behind model's hits, with their rows' deferred writes laid over them, in
    one round trip: the MGET of the entries (and their generations) and wb_peek, which
    reads the buffer only for rows flagged as having deferred writes, pipelined.

    Returns (key pk -> instance, or None for a cached "no such row"; the keys still to
    read: misses, unreadable entries, or all of them if Redis failed). ``timed``: record
    the hit's latency (a single read). NOTE: the peek costs Redis one EXISTS per row
    without deferred writes.
    """
    started = time.perf_counter()
    key_pks = [str(key_pk) for key_pk in by_base.values()]
    entries = list(by_base)
    generations_keys = with_epoch(config.generation_keys)
    peek_keys, peek_args = peek_call(config.model, key_pks)
    try:
        values, peeked = read_with_peek([*entries, *generations_keys], peek_keys, peek_args)
    except RedisError:
        return {}, by_base
    generations = values[len(entries) :]
    hits: dict[Any, Any] = {}
    items: dict[str, Any] = {}
    remaining: dict[str, Any] = {}
    # values: the entries, then their generations.
    for (base, key_pk), stored, item in zip(by_base.items(), values, peeked, strict=False):
        data = readthrough.current_data(stored, generations)
        if data is None:
            remaining[base] = key_pk
            continue
        try:
            instance = _decode_instance(config, using, data)
        except Exception:  # a corrupt or foreign entry: the read path counts and replaces it
            remaining[base] = key_pk
            continue
        hits[key_pk] = instance
        if instance is not None:
            items[str(key_pk)] = item
    if items:
        saved = {k for k in items if pending_touches(using, (), config.object_base(k, using))}
        for marks, group in ((True, items.keys() - saved), (False, saved)):
            if group:
                lay_peeked(
                    config.model,
                    {k: hits[k] for k in items if k in group},
                    [items[k] for k in items if k in group],
                    using,
                    marks=marks,
                )
    elapsed = time.perf_counter() - started if timed else 0.0
    for _ in hits:
        stats.record_hit(config.namespace, elapsed)
    return hits, remaining


def _lay_deferred_writes(config: ModelConfig, instances: dict[Any, Any], using: str) -> None:
    """Lay the buffered writes over ``instances`` (key pk -> instance or None). A
    transaction that saved a row does not see the writes its save set aside.
    NOTE: one Redis round trip more per read of a write-behind model that was not a hit."""
    saved = {
        key_pk: instance
        for key_pk, instance in instances.items()
        if pending_touches(using, (), config.object_base(key_pk, using))
    }
    others = {key_pk: obj for key_pk, obj in instances.items() if key_pk not in saved}
    overlay(config.model, others, using)
    if saved:
        overlay(config.model, saved, using, marks=False)


def get_objects(model: type[M], pks: Iterable[Any], *, using: str | None = None) -> dict[Any, M]:
    """Many objects by primary key, like ``in_bulk``.

    All hits: one Redis round trip, which also takes the leases of the misses; then one
    query for the misses leased here and one round trip to store them. Keys whose lease
    another process holds are waited for, like ``get_object``.
    """
    config = get_config(model)
    using = using or read_database(model)
    settled: set[Any] = set()
    found = _read_objects(config, model, pks, using, settled)
    if config.write_behind and found:
        by_key = {_normalize_pk(model, pk): obj for pk, obj in found.items()}
        unsettled = {k: obj for k, obj in by_key.items() if k not in settled}
        if unsettled:
            _lay_deferred_writes(config, unsettled, using)
    return found


def _read_objects(
    config: ModelConfig, model: type[M], pks: Iterable[Any], using: str, settled: set[Any]
) -> Any:
    """get_objects; the deferred writes are laid over the hits of a write-behind model,
    whose keys go into ``settled``, but not over rows loaded from the database."""
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
    if config.near_cache:
        by_base = _near_hits(config, using, by_base, found)
        if not by_base:
            return found
    if config.write_behind and buffer_shares_cache():
        hits, by_base = _buffered_hits(config, using, by_base)
        for key_pk, instance in hits.items():
            settled.add(key_pk)
            if instance is not None:
                found[instance.pk] = instance
        if not by_base:
            return found

    load = rows_loader(config, using, by_base)

    def fetch() -> dict[str, Any]:
        return readthrough.fetch_many(
            namespace,
            generation_keys,
            list(by_base),
            load,
            encode=lambda value: _encode_instance(config, value),
            decode=lambda data: _decode_instance(config, using, data),
            policy=config.freshness,
            describe=lambda bases: _object_job(config, using, [by_base[b] for b in bases]),
        )

    if config.near_cache:
        entries = front.read_many_missed(
            generation_keys,
            list(by_base),
            fetch,
            freeze=lambda instance: instances.freeze(config, instance),
        )
    else:
        entries = fetch()
    found.update((instance.pk, instance) for instance in entries.values() if instance is not None)
    return found


def _object_job(config: ModelConfig, using: str, key_pks: list[Any]) -> dict[str, Any]:
    """What a worker needs to reload rows (see refresh.run)."""
    return {"kind": "objects", "model": config.model._meta.label, "using": using, "pks": key_pks}


def rows_loader(
    config: ModelConfig, using: str, by_base: dict[str, Any]
) -> Callable[[list[str]], dict[str, Any]]:
    """Loads the rows of entry keys (``by_base``: key -> key pk) in one query, None for a
    missing row. The database's rows: deferred writes are laid over them on every read."""
    model = config.model

    def load(bases: list[str]) -> dict[str, Any]:
        source = read_alias(using, config.generation_keys, bases)
        source_manager = model._default_manager.db_manager(source)
        pks = [model._meta.pk.to_python(by_base[base]) for base in bases]
        loaded = source_manager.in_bulk(pks)
        loaded_by_key = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
        return {base: loaded_by_key.get(by_base[base]) for base in bases}

    return load


def _near_hits(
    config: ModelConfig, using: str, by_base: dict[str, Any], found: dict[Any, Any]
) -> dict[str, Any]:
    """Add the near cache's hits to ``found``; the keys still to read."""
    cache = near_cache()
    remaining: dict[str, Any] = {}
    for base, key_pk in by_base.items():
        entry = cache.lookup(base)
        if entry is None:
            remaining[base] = key_pk
            continue
        stats.record_near_hit(config.namespace, 0.0)
        instance = instances.thaw(config, using, entry)
        if instance is not None:
            found[instance.pk] = instance
    return remaining
