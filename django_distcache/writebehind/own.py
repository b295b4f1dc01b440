"""Deferred writes made inside a transaction: buffered when it commits, read by it meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models, router, transaction

from django_distcache.invalidation import schedule_invalidation
from django_distcache.reads import readthrough
from django_distcache.writebehind.buffer import Record, add_to

# Where a connection keeps its transaction's deferred writes.
_ATTR = "_distcache_deferred_writes"


def defer_to_commit(
    using: str, model: type[models.Model], key_pk: Any, entry: str, ops: list, buffer: Callable
) -> None:
    """Run ``buffer`` when the open transaction commits; nothing if it rolls back.

    Until then the transaction reads these writes (``own_record``), and its reads of
    the row bypass the cache (the row counts as written by it).
    """
    transaction.on_commit(buffer, using=using)
    connection = transaction.get_connection(using)
    connection.__dict__.setdefault(_ATTR, []).append(
        (model._meta.label_lower, str(key_pk), ops, buffer)
    )
    schedule_invalidation(using, entries=[entry])


def own_record(model: type[models.Model], key_pk: Any) -> Record | None:
    """The deferred writes the open transaction made to a row, not yet buffered."""
    connection = transaction.get_connection(router.db_for_write(model))
    writes = connection.__dict__.get(_ATTR)
    if not writes:
        return None
    # A write whose commit callback is gone was buffered or rolled back (with its
    # savepoint or transaction): Django drops such callbacks from run_on_commit.
    alive = {id(entry[1]) for entry in connection.run_on_commit}
    writes[:] = [write for write in writes if id(write[3]) in alive]
    label, pk = model._meta.label_lower, str(key_pk)
    record, codec = Record(), readthrough.serializer()
    for write_label, write_pk, ops, _buffer in writes:
        if (write_label, write_pk) != (label, pk):
            continue
        for kind, attname, value in ops:
            if kind == "v":
                record.values[attname] = codec.loads(value)
                record.increments.pop(attname, None)
            elif attname in record.values:
                record.values[attname] = add_to(record.values[attname], value)
            else:
                record.increments[attname] = record.increments.get(attname, 0) + value
    return None if record.empty else record
