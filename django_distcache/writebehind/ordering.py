"""Order deferred writes against direct writes: a direct save or update()
supersedes the deferred writes to its columns made before it, and only those.

Before the direct write, those writes are moved out of the buffer into its *mark*
(wb_mark.lua): no flush writes them, and writes made from then on are kept apart.
When the direct write commits, the mark is dropped; if it does not, the marked
writes are restored. The mark has no expiry while its transaction runs: a flush
settles a mark left behind by asking the database about its transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, transaction
from django.db.models.signals import post_save, pre_save
from redis.exceptions import RedisError

from django_distcache.client import buffer_shares_cache, get_buffer_redis, script
from django_distcache.registry import get_config
from django_distcache.writebehind.buffer import buffer_keys
from django_distcache.writebehind.transactions import current_txid

logger = logging.getLogger("django_distcache")

# Rows per script call: a QuerySet.update() of many rows never holds Redis long.
MARK_CHUNK = 50
# The attribute a saved instance keeps its mark in, from pre_save to post_save.
_MARK_ATTR = "_distcache_write_behind_mark"


@dataclass(frozen=True)
class Mark:
    """The deferred writes a direct write to ``pks`` set aside (see the module)."""

    model: type[models.Model]
    token: str
    pks: tuple[str, ...]

    def drop_on_commit(self, using: str) -> None:
        """Drop the marked writes when the direct write's transaction commits."""
        transaction.on_commit(lambda: settle_mark(self.model, self.token, self.pks, "drop"), using)


def _key_pks(model: type[models.Model], pks: Iterable[Any]) -> list[str]:
    from django_distcache.objects import _normalize_pk

    return [str(_normalize_pk(model, pk)) for pk in pks]


def mark(
    model: type[models.Model], pks: Iterable[Any], attnames: Iterable[str], *, using: str
) -> Mark | None:
    """Set aside the deferred writes to ``attnames`` of rows ``pks`` made so far, before
    a direct write of them. None when there were none (the common case: one round
    trip). NOTE: one query more when there were, inside a transaction (its id)."""
    key_pks, names = _key_pks(model, pks), list(attnames)
    if not key_pks or not names:
        return None
    bkeys = buffer_keys(model)
    token = uuid.uuid4().hex[:16]
    buffer = get_buffer_redis()
    marked = []
    try:
        for start in range(0, len(key_pks), MARK_CHUNK):
            chunk = key_pks[start : start + MARK_CHUNK]
            count = script("wb_mark")(
                keys=[bkeys.claimed],
                args=[bkeys.root, token, "", len(names), *names, *chunk],
                client=buffer,
            )
            if count:
                marked += chunk
        if not marked:
            return None
        if connections[using].in_atomic_block:
            # Lets a flush tell later whether the direct write committed.
            txid = current_txid(using)
            pipe = buffer.pipeline(transaction=False)
            for pk in marked:
                pipe.hset(f"{bkeys.root}:m:{pk}:{token}", "txid", txid)
            pipe.execute()
    except RedisError:
        # NOTE: the direct write goes on; deferred writes to these columns made before
        # it may still be flushed over it. Logged, not raised.
        logger.exception("django_distcache could not mark %s rows %s", bkeys.label, key_pks[:10])
        return None
    return Mark(model, token, tuple(marked))


def settle_mark(model: type[models.Model], token: str, pks: Iterable[str], mode: str) -> list[str]:
    """'drop' or 'restore' the marked writes of rows ``pks``; returns the pks skipped
    (a restore waits while a batch holds the row)."""
    bkeys = buffer_keys(model)
    entries = get_config(model).object_base("") if buffer_shares_cache() else ""
    pks = list(pks)
    skipped: list[str] = []
    try:
        for start in range(0, len(pks), MARK_CHUNK):
            answer = script("wb_unmark")(
                keys=[bkeys.claimed],
                args=[bkeys.root, mode, token, entries, *pks[start : start + MARK_CHUNK]],
                client=get_buffer_redis(),
            )
            skipped += [pk.decode() for pk in answer]
    except RedisError:
        logger.exception("django_distcache could not settle a mark of %s rows", bkeys.label)
    return skipped


def _written_attnames(model: type[models.Model], update_fields: Iterable[str] | None) -> list[str]:
    fields = list(model._meta.concrete_fields)
    if update_fields is not None:
        wanted = set(update_fields)
        fields = [f for f in fields if f.name in wanted or f.attname in wanted]
    return [f.attname for f in fields if not f.primary_key]


def _on_pre_save(
    sender: type[models.Model],
    instance: models.Model,
    using: str,
    update_fields: Iterable[str] | None = None,
    **kwargs: Any,
) -> None:
    if instance.pk is None or instance._state.adding:
        return
    found = mark(sender, [instance.pk], _written_attnames(sender, update_fields), using=using)
    instance.__dict__[_MARK_ATTR] = found


def _on_save(sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any) -> None:
    found = instance.__dict__.pop(_MARK_ATTR, None)
    if found is not None:
        found.drop_on_commit(using)


def plain_update_attnames(model: type[models.Model], values: dict[str, Any]) -> list[str]:
    """The columns an ``update(**values)`` sets to plain values (not expressions)."""
    names = []
    for name, value in values.items():
        if hasattr(value, "resolve_expression"):
            continue
        names.append(model._meta.get_field(name).attname)  # type: ignore[union-attr]
    return names


def connect_receivers(model: type[models.Model]) -> None:
    """Connect the save receivers of a write-behind model (once)."""
    label = model._meta.label_lower
    pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"distcache.wb.pre_save.{label}")
    post_save.connect(_on_save, sender=model, dispatch_uid=f"distcache.wb.save.{label}")
