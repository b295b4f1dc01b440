"""Write a batch's rows; a row that breaks the batch is isolated, the others written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connections, models, transaction

from django_distcache.writebehind.buffer import Record, add_to
from django_distcache.writebehind.sql import Columns, update_rows


def apply_rows(
    model: type[models.Model], using: str, records: dict[Any, Record]
) -> dict[Any, Exception]:
    """Write ``records`` (pk -> Record) in batched statements; return the rows that failed.

    The batch is tried whole inside a savepoint; if a row breaks it, each row is
    tried alone so the others are still written. Any exception of a row is that row's
    (a constraint, a value the column refuses, a statement or lock timeout, a value
    Python cannot convert); only a connection or transaction the error broke ends the
    batch.
    """
    if not records:
        return {}
    try:
        with transaction.atomic(using=using):
            _bulk_write(model, using, records.items())
        return {}
    except Exception:
        _raise_if_broken(using)
    failures: dict[Any, Exception] = {}
    for pk, record in records.items():
        try:
            with transaction.atomic(using=using):
                _bulk_write(model, using, [(pk, record)])
        except Exception as exc:
            _raise_if_broken(using)
            failures[pk] = exc
    return failures


def _raise_if_broken(using: str) -> None:
    """Re-raise the error being handled if the savepoint could not be rolled back
    (the connection is gone or the transaction cannot go on)."""
    connection = connections[using]
    raw = connection.connection
    if connection.needs_rollback or raw is None or raw.closed:
        raise


def _bulk_write(model: type[models.Model], using: str, items: Iterable[tuple[Any, Record]]) -> None:
    groups: dict[Columns, list[tuple[Any, ...]]] = defaultdict(list)
    for pk, record in items:
        columns: list[tuple[str, str]] = []
        row: list[Any] = [pk]
        for name in record.fields:
            amount = record.increments.get(name)
            if name in record.values:
                value = record.values[name]
                columns.append((name, "set"))
                row.append(add_to(value, amount) if amount else value)
            else:
                columns.append((name, "add"))
                row.append(amount)
        groups[tuple(columns)].append(tuple(row))
    for group, rows in groups.items():
        update_rows(model, using, group, rows)
