"""The async API: aget_object, aget_objects, aget_or_set and @cached on ``async def``.

Same keys, codec, generations, leases and invalidation as the sync calls, so sync and
async code share entries and single flight. A hit never leaves the event loop; a miss
loads through Django's async ORM (``afirst``, ``ain_bulk``: Django runs those queries in
its thread) or, for a sync loader, ``sync_to_async``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.db import models
from django.db.models.query import QuerySet

from django_distcache import hotkeys
from django_distcache.invalidation import pending_touches
from django_distcache.reads import front, instances, readthrough, values
from django_distcache.reads.afetch import afetch, afetch_many, aread_alias
from django_distcache.reads.afront import aread_many_missed, aread_missed
from django_distcache.reads.functions import (
    CachedFunction,
    _encoder,
    _touched_by_open_transaction,
    get_or_set_keys,
)
from django_distcache.reads.objects import (
    _decode_instance,
    _encode_instance,
    _near_hits,
    _normalize_pk,
    get_object,
    get_objects,
    read_database,
)
from django_distcache.registry import ModelConfig, ModelRef, get_config

M = TypeVar("M", bound=models.Model)


async def aget_object(model: type[M], pk: Any, *, using: str | None = None) -> M:
    """``get_object`` for async code: ``await model.objects.aget(pk=pk)`` through the cache.

    A hit is one awaited Redis round trip on the event loop. Raises ``model.DoesNotExist``.
    """
    config = get_config(model)
    using = using or read_database(model)
    if config.write_behind:
        # NOTE: deferred writes are laid over the row by the sync path: a thread per read.
        return await sync_to_async(get_object)(model, pk, using=using)
    instance = instances.hit(config, pk, using) if config.near_cache else instances.MISSED
    if instance is instances.MISSED:
        instance = await _read_object(config, _normalize_pk(model, pk), pk, using)
    if instance is None:
        raise model.DoesNotExist(  # type: ignore[attr-defined]
            f"{model._meta.object_name} matching pk={pk!r} does not exist."
        )
    return cast(M, instance)


async def _read_object(
    config: ModelConfig, key_pk: str, pk: Any, using: str
) -> models.Model | None:
    """The row through Redis (an L1 miss fills the near cache the sync reads share)."""
    key = config.object_base(key_pk, using)
    generation_keys = config.generation_keys

    async def load() -> models.Model | None:
        source = await aread_alias(using, generation_keys, [key])
        manager = config.model._default_manager.db_manager(source)
        return await manager.filter(pk=pk).afirst()

    hotkeys.record(config.namespace, key_pk)
    if pending_touches(using, generation_keys, key):
        return await load()

    def fetch() -> Awaitable[Any]:
        return afetch(
            config.namespace,
            generation_keys,
            key,
            load,
            encode=lambda value: _encode_instance(config, value),
            decode=lambda data: _decode_instance(config, using, data),
        )

    if not config.near_cache:
        return await fetch()
    return await aread_missed(
        config.namespace,
        generation_keys,
        key,
        fetch,
        decode=lambda data: _decode_instance(config, using, data),
        freeze=lambda instance: instances.freeze(config, instance),
    )


async def aget_objects(
    model: type[M], pks: Iterable[Any], *, using: str | None = None
) -> dict[Any, M]:
    """``get_objects`` for async code: many objects by primary key, like ``ain_bulk``.

    All hits: one awaited round trip; the misses leased here load in one query.
    """
    config = get_config(model)
    using = using or read_database(model)
    if config.write_behind:
        return await sync_to_async(get_objects)(model, pks, using=using)
    by_key = {_normalize_pk(model, pk): model._meta.pk.to_python(pk) for pk in pks}
    if not by_key:
        return {}
    generation_keys = config.generation_keys
    base_of = {key_pk: config.object_base(key_pk, using) for key_pk in by_key}
    manager = model._default_manager.db_manager(using)
    hotkeys.record_many(config.namespace, by_key)
    found: dict[Any, Any] = {}
    dirty = [k for k, base in base_of.items() if pending_touches(using, generation_keys, base)]
    if dirty:
        found.update(await manager.ain_bulk([by_key[k] for k in dirty]))
    by_base = {base_of[k]: k for k in by_key if k not in dirty}
    if config.near_cache:
        by_base = _near_hits(config, using, by_base, found)
    if not by_base:
        return found

    async def load(bases: list[str]) -> dict[str, Any]:
        source = await aread_alias(using, generation_keys, bases)
        source_manager = model._default_manager.db_manager(source)
        loaded = await source_manager.ain_bulk([by_key[by_base[base]] for base in bases])
        loaded_by_key = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
        return {base: loaded_by_key.get(by_base[base]) for base in bases}

    def fetch() -> Awaitable[dict[str, Any]]:
        return afetch_many(
            config.namespace,
            generation_keys,
            list(by_base),
            load,
            encode=lambda value: _encode_instance(config, value),
            decode=lambda data: _decode_instance(config, using, data),
        )

    if config.near_cache:
        entries = await aread_many_missed(
            generation_keys,
            list(by_base),
            fetch,
            freeze=lambda instance: instances.freeze(config, instance),
        )
    else:
        entries = await fetch()
    found.update((obj.pk, obj) for obj in entries.values() if obj is not None)
    return found


async def _call(loader: Callable[[], Any]) -> Any:
    """``loader()`` awaited: a coroutine function is awaited, a sync one runs in a thread."""
    if iscoroutinefunction(loader):
        return await loader()
    return await sync_to_async(loader)()


async def _afetch_value(
    namespace: str,
    base: str,
    generation_keys: Any,
    loader: Callable[[], Any],
    timeout: float | object | None,
    *,
    near_cache: bool = False,
) -> Any:
    """The value at ``base``; with ``near_cache``, after L1 missed (``front.hit``)."""
    if _touched_by_open_transaction(generation_keys, base):
        return await _call(loader)

    def fetch() -> Awaitable[Any]:
        return afetch(
            namespace,
            generation_keys,
            base,
            lambda: _call(loader),
            encode=_encoder(namespace, timeout),
            decode=lambda data: readthrough.serializer().loads(data),
        )

    if not near_cache:
        return await fetch()
    return await aread_missed(
        namespace,
        generation_keys,
        base,
        fetch,
        decode=lambda data: readthrough.serializer().loads(data),
        freeze=lambda value: values.freeze(value, timeout),
    )


async def aget_or_set(
    key: str,
    loader: Callable[[], Any],
    *,
    timeout: float | object | None = DEFAULT_TIMEOUT,
    depends_on: Iterable[ModelRef] = (),
    tags: Iterable[str] = (),
    near_cache: bool = False,
) -> Any:
    """``get_or_set`` for async code: the same entry, awaited.

    ``loader`` may be a coroutine function (awaited) or a sync callable (run through
    ``sync_to_async``, on a miss only). ``near_cache=True``: as for ``get_or_set``,
    the same near cache.
    """
    generation_keys, base = get_or_set_keys(key, depends_on, tags)
    if near_cache:
        found = front.hit("get_or_set", generation_keys, base, values.thaw)
        if found is not front.MISSED:
            return found
    return await _afetch_value(
        "get_or_set", base, generation_keys, loader, timeout, near_cache=near_cache
    )


class AsyncCachedFunction(CachedFunction):
    """An ``async def`` function whose results are cached per arguments (see ``cached``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        markcoroutinefunction(self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        async def load() -> Any:
            value = await self.func(*args, **kwargs)
            # A queryset is cached as its list of rows; return the same on a miss.
            return [row async for row in value] if isinstance(value, QuerySet) else value

        base = self.base(args, kwargs)
        generation_keys = self.generation_keys()
        if self.near_cache:
            found = front.hit(self.namespace, generation_keys, base, values.thaw)
            if found is not front.MISSED:
                return found
        return await _afetch_value(
            self.namespace, base, generation_keys, load, self.timeout, near_cache=self.near_cache
        )
