"""Order deferred writes against direct writes: a direct save, update() or delete
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

from django.apps import apps
from django.db import connections, models, transaction
from django.db.models.signals import (
    class_prepared,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
)

from django_distcache import keys
from django_distcache.keys import lease_key
from django_distcache.redis import buffer
from django_distcache.redis.client import buffer_shares_cache
from django_distcache.redis.errors import RedisError
from django_distcache.registry import find_config, get_config
from django_distcache.writebehind.buffer import buffer_keys
from django_distcache.writebehind.transactions import current_txid

logger = logging.getLogger("django_distcache")

# Rows per script call: a QuerySet.update() of many rows never holds Redis long (under
# 1.5 ms per call for rows with deferred writes; tests/test_writebehind_costs.py).
MARK_CHUNK = 50
# The attribute a saved instance keeps its mark in, from pre_save to post_save.
_MARK_ATTR = "_distcache_write_behind_mark"
# Where a connection keeps the mark of a delete in progress, from its pre_delete signals
# to its first post_delete: (label, id(origin)) -> (origin, model, token, marked pks).
_DELETES_ATTR = "_distcache_write_behind_deletes"


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
    from django_distcache.reads.objects import _normalize_pk

    return [str(_normalize_pk(model, pk)) for pk in pks]


def mark(
    model: type[models.Model],
    pks: Iterable[Any],
    attnames: Iterable[str],
    *,
    using: str,
    token: str | None = None,
) -> Mark | None:
    """Set aside the deferred writes to ``attnames`` of rows ``pks`` made so far, before
    a direct write of them. None when there were none (the common case: one round
    trip per MARK_CHUNK rows). NOTE: one query more when there were, inside a
    transaction (its id).
    ``token``: the mark's (a new one by default).
    """
    key_pks, names = _key_pks(model, pks), list(attnames)
    if not key_pks or not names:
        return None
    bkeys = buffer_keys(model)
    token = token or uuid.uuid4().hex[:16]
    marked = []
    fixed = [bkeys.claimed, bkeys.txids, bkeys.marks, bkeys.pending]
    try:
        for start in range(0, len(key_pks), MARK_CHUNK):
            chunk = key_pks[start : start + MARK_CHUNK]
            count = buffer.run_script(
                "mark",
                [*fixed, *bkeys.rows(chunk, "record", "held", "row_marks")],
                [token, "", len(names), *names, *chunk],
            )
            if count:
                marked += chunk
        if not marked:
            return None
        if connections[using].in_atomic_block:
            # Lets a flush tell later whether the direct write committed.
            txid = current_txid(using)
            buffer.set_field_of_each(map(bkeys.row_marks, marked), f"{token}:txid", txid)
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
    config = get_config(model)
    dropping = mode == "drop" and buffer_shares_cache()
    fixed = [bkeys.claimed, bkeys.marks, bkeys.pending, bkeys.since]
    pks = list(pks)
    skipped: list[str] = []
    try:
        for start in range(0, len(pks), MARK_CHUNK):
            chunk = pks[start : start + MARK_CHUNK]
            # A read may have laid the marked writes over these entries.
            drops = [("DEL", *_entry_and_lease(config, pk)) for pk in chunk] if dropping else []
            replies = buffer.run_script_after(
                drops,
                "unmark",
                [*fixed, *bkeys.rows(chunk, "record", "row_marks", "flag")],
                [mode, token, *chunk],
            )
            skipped += [pk.decode() for pk in replies[-1]]
    except RedisError:
        logger.exception("django_distcache could not settle a mark of %s rows", bkeys.label)
    return skipped


def _entry_and_lease(config: Any, pk: str) -> tuple[str, str]:
    entry = config.object_base(pk)
    return entry, lease_key(entry)


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


def _all_attnames(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if not f.primary_key]


def _on_pre_delete(
    sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
) -> None:
    """Set aside the row's deferred writes made so far, in the mark of this delete (one
    per model and delete, dropped when it commits: _on_delete).
    NOTE: one round trip per deleted row of a write-behind model."""
    if instance.pk is None:
        return
    origin = kwargs.get("origin")
    waiting = connections[using].__dict__.setdefault(_DELETES_ATTR, {})
    # Keyed by the origin's id; the entry holds the origin, so that id is not reused
    # while the entry waits.
    key = (keys.model_label(sender), id(origin))
    if key not in waiting:
        waiting[key] = (origin, sender, uuid.uuid4().hex[:16], [])
    _origin, _model, token, marked = waiting[key]
    found = mark(sender, [instance.pk], _all_attnames(sender), using=using, token=token)
    if found is not None:
        marked.extend(found.pks)


def _on_delete(
    sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
) -> None:
    """The delete's first post_delete of this model: Django sent every pre_delete before
    its DELETE statements, so every row it marked is known; the mark is dropped when the
    delete commits (restored if it does not)."""
    waiting = connections[using].__dict__.get(_DELETES_ATTR)
    if not waiting:
        return
    entry = waiting.pop((keys.model_label(sender), id(kwargs.get("origin"))), None)
    if entry is not None and entry[3]:
        _origin, model, token, marked = entry
        Mark(model, token, tuple(marked)).drop_on_commit(using)


def connect_receivers(model: type[models.Model]) -> None:
    """Connect the save and delete receivers of a write-behind model and of its proxies
    (once; a proxy defined later is connected when its class is prepared).

    NOTE: a delete receiver makes Django fetch the rows it deletes (no fast delete)."""
    proxies = [m for m in apps.get_models() if m._meta.proxy and m._meta.concrete_model is model]
    for sender in (model, *proxies):
        _connect(sender)
    class_prepared.connect(_on_class_prepared, dispatch_uid="distcache.wb.proxies")


def _connect(sender: type[models.Model]) -> None:
    label = sender._meta.label_lower
    pre_save.connect(_on_pre_save, sender=sender, dispatch_uid=f"distcache.wb.pre_save.{label}")
    post_save.connect(_on_save, sender=sender, dispatch_uid=f"distcache.wb.save.{label}")
    pre_delete.connect(
        _on_pre_delete, sender=sender, dispatch_uid=f"distcache.wb.pre_delete.{label}"
    )
    post_delete.connect(_on_delete, sender=sender, dispatch_uid=f"distcache.wb.delete.{label}")


def _on_class_prepared(sender: type[models.Model], **kwargs: Any) -> None:
    """A proxy of a write-behind model defined after its registration."""
    if not sender._meta.proxy:
        return
    config = find_config(sender._meta.concrete_model)  # type: ignore[arg-type]
    if config is not None and config.write_behind:
        _connect(sender)
