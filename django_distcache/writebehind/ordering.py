"""Order deferred writes against direct saves: a save drops the deferred writes it overwrote."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_save, pre_save
from redis.exceptions import RedisError

from django_distcache.client import get_buffer_redis, script
from django_distcache.conf import get_settings
from django_distcache.writebehind.buffer import buffer_keys

logger = logging.getLogger("django_distcache")


def supersede(model: type[models.Model], pks: Iterable[Any], attnames: Iterable[str]) -> None:
    """Drop the buffered writes to ``attnames`` of rows ``pks`` (a direct write replaced them)."""
    from django_distcache.objects import _normalize_pk

    pks = [str(_normalize_pk(model, pk)) for pk in pks]
    attnames = list(attnames)
    if not pks:
        return
    bkeys = buffer_keys(model)
    args: list[Any] = [bkeys.record_prefix, bkeys.held_root, bkeys.fence_prefix, len(attnames)]
    try:
        script("wb_supersede")(
            keys=[bkeys.pending, bkeys.claimed, bkeys.since],
            args=[*args, *attnames, *pks],
            client=get_buffer_redis(),
        )
    except RedisError:
        # NOTE: the database write stands; deferred writes to these columns made before
        # it may still be flushed over it. Logged, not raised: the write has committed.
        logger.exception(
            "django_distcache could not drop the deferred writes that a direct write to "
            "%s rows %s replaced",
            bkeys.label,
            pks[:10],
        )


def fence(model: type[models.Model], pks: Iterable[Any]) -> None:
    """Mark rows as being written directly, until ``supersede`` runs at commit.

    A flush that locks a fenced row leaves it for later, so it never writes deferred
    values over a direct write whose commit has not yet dropped them. A fence left by a
    rolled-back transaction expires after WRITE_BEHIND_LEASE_TIMEOUT.
    NOTE: one Redis round trip per direct save of a write-behind model.
    """
    from django_distcache.objects import _normalize_pk

    bkeys = buffer_keys(model)
    ttl_ms = int(get_settings().WRITE_BEHIND_LEASE_TIMEOUT * 1000)
    try:
        pipe = get_buffer_redis().pipeline(transaction=False)
        for pk in pks:
            pipe.set(f"{bkeys.fence_prefix}{_normalize_pk(model, pk)}", 1, px=ttl_ms)
        pipe.execute()
    except RedisError:
        logger.exception("django_distcache could not fence %s rows", bkeys.label)


def supersede_on_commit(
    model: type[models.Model], pks: Iterable[Any], attnames: Iterable[str], *, using: str
) -> None:
    """``supersede`` when the transaction that wrote the rows commits."""
    pks, attnames = list(pks), list(attnames)
    transaction.on_commit(lambda: supersede(model, pks, attnames), using=using)


def _written_attnames(model: type[models.Model], update_fields: Iterable[str] | None) -> list[str]:
    fields = list(model._meta.concrete_fields)
    if update_fields is not None:
        wanted = set(update_fields)
        fields = [f for f in fields if f.name in wanted or f.attname in wanted]
    return [f.attname for f in fields if not f.primary_key]


def _on_pre_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if instance.pk is not None and not instance._state.adding:
        fence(sender, [instance.pk])


def _on_save(
    sender: type[models.Model],
    instance: models.Model,
    using: str,
    update_fields: Iterable[str] | None = None,
    **kwargs: Any,
) -> None:
    supersede_on_commit(
        sender, [instance.pk], _written_attnames(sender, update_fields), using=using
    )


def plain_update_attnames(model: type[models.Model], values: dict[str, Any]) -> list[str]:
    """The columns an ``update(**values)`` sets to plain values (not expressions)."""
    names = []
    for name, value in values.items():
        if hasattr(value, "resolve_expression"):
            continue
        names.append(model._meta.get_field(name).attname)  # type: ignore[union-attr]
    return names


def connect_receivers(model: type[models.Model]) -> None:
    """Connect the save receiver of a write-behind model (once)."""
    label = model._meta.label_lower
    pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"distcache.wb.pre_save.{label}")
    post_save.connect(_on_save, sender=model, dispatch_uid=f"distcache.wb.save.{label}")
