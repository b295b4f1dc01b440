"""Store fresh cache entries of objects, safely against concurrent invalidation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, router

from django_distcache.outbox.keys import with_epoch
from django_distcache.reads import readthrough
from django_distcache.reads.leases import lease_ms
from django_distcache.reads.objects import _encode_instance, _normalize_pk
from django_distcache.redis import warm_leases
from django_distcache.registry import get_config


def refresh_objects(
    model: type[models.Model], pks: Iterable[Any], *, using: str | None = None
) -> int:
    """Read the rows ``pks`` and store their entries; returns how many were stored.

    Three round trips and one query for the lot: lease, read, store (entries hold
    the database's rows; reads lay buffered writes over them). An entry invalidated
    while its row was read is not stored.
    """
    config = get_config(model)
    using = using or router.db_for_read(model)
    by_key = {_normalize_pk(model, pk): pk for pk in pks}
    if not by_key:
        return 0
    bases = {key_pk: config.object_base(key_pk) for key_pk in by_key}
    token = readthrough.new_token()
    generations = warm_lease(with_epoch(config.generation_keys), list(bases.values()), token)
    manager = model._default_manager.db_manager(using)
    loaded = manager.in_bulk([model._meta.pk.to_python(pk) for pk in by_key.values()])
    instances = {_normalize_pk(model, pk): obj for pk, obj in loaded.items()}
    items = []
    for key_pk, base in bases.items():
        encoded = _encode_instance(config, instances.get(key_pk))
        if encoded is None:
            readthrough.release([(base, token)])
            continue
        data, timeout = encoded
        items.append((base, token, data, readthrough.ttl_ms(timeout)))
    return readthrough.store(config.generation_keys, generations, items, policy=config.freshness)


def warm_lease(generation_keys: list[str], entries: list[str], token: str) -> bytes:
    """Take the leases of ``entries`` whatever they hold; the current generations
    (``redis.warm_leases``)."""
    return warm_leases.take(generation_keys, entries, lease_ms(), token)
