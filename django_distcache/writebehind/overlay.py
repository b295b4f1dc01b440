"""Read-your-writes: lay buffered writes over rows loaded from the database or the cache."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import models, router

from django_distcache.redis import buffer
from django_distcache.redis.errors import RedisError
from django_distcache.writebehind.buffer import Record, apply_record, buffer_keys, parse_record
from django_distcache.writebehind.own import own_record
from django_distcache.writebehind.transactions import commit_status

logger = logging.getLogger("django_distcache")


def peek_call(model: type[models.Model], key_pks: Sequence[str]) -> tuple[list[str], list[str]]:
    """(keys, args) of the wb_peek call reading the deferred writes of rows ``key_pks``:
    sent alone by ``overlay``, or with a hit's read (objects.py)."""
    bkeys = buffer_keys(model)
    row_keys = bkeys.rows(key_pks, "flag", "held", "row_marks", "record")
    return [bkeys.claimed, bkeys.txids, *row_keys], list(key_pks)


def overlay(
    model: type[models.Model],
    instances: dict[Any, models.Model | None],
    using: str | None = None,
    *,
    marks: bool = True,
) -> None:
    """Apply the buffered writes of each row to its instance (key pk -> instance), in place.

    One round trip. ``marks=False`` leaves out the writes set aside by direct writes
    (for the transaction that made one).
    """
    present = {str(pk): obj for pk, obj in instances.items() if obj is not None}
    if not present:
        return
    keys_, args = peek_call(model, list(present))
    try:
        answer = buffer.run_script("peek", keys_, args)
    except RedisError:
        # NOTE: the read goes on with the database's values: while the buffer's Redis
        # is unreachable, its writes cannot be seen (nor made: write_behind raises).
        logger.warning("django_distcache: write-behind buffer unreachable (%s)", model)
        return
    lay_peeked(model, present, answer, using, marks=marks)


def lay_peeked(
    model: type[models.Model],
    instances: dict[str, models.Model],
    answer: Sequence[Any],
    using: str | None = None,
    *,
    marks: bool = True,
) -> None:
    """Apply wb_peek's ``answer`` (one item per row of ``instances``, in order) in place.

    A row held by a batch gets that batch's writes first, then those a direct write in
    progress set aside, then the newer pending ones, then the open transaction's own.
    A batch whose transaction has committed (its flush may not have acknowledged it
    yet) is already in the database: the row is read again and the batch skipped.
    NOTE: that costs one query more, only for rows in such a batch.
    """
    using = using or router.db_for_read(model)
    statuses: dict[bytes, str] = {}
    for (key_pk, instance), item in zip(instances.items(), answer, strict=True):
        if item:
            held, txid, marked, pending = item
            if held and txid:
                if txid not in statuses:
                    statuses[txid] = commit_status(using, txid.decode())
                if statuses[txid] == "committed":
                    _reload(model, instance, using)
                    held = None
            if held:
                apply_record(instance, parse_record(held))
            for record in _marks(marked) if marks else ():
                apply_record(instance, record)
            if pending:
                apply_record(instance, parse_record(pending))
        own = own_record(model, key_pk)
        if own is not None:
            apply_record(instance, own)


def _marks(flat: list[bytes]) -> list[Record]:
    """The marks of a row's marks hash ("<token>:<field>" fields), one Record each."""
    by_token: dict[bytes, list[bytes]] = {}
    for name, value in zip(flat[::2], flat[1::2], strict=True):
        token, _, field = name.partition(b":")
        by_token.setdefault(token, []).extend((field, value))
    return [parse_record(fields) for fields in by_token.values()]


def _reload(model: type[models.Model], instance: models.Model, using: str) -> None:
    """Read the row again: it was read before a batch's commit that is now certain."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    fresh = model._base_manager.using(using).filter(pk=instance.pk).values(*attnames).first()
    if fresh is not None:
        instance.__dict__.update(fresh)
