"""Write a batch's rows; a row that breaks the batch is isolated, the others written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, ProgrammingError, models, transaction

from django_distcache.writebehind.buffer import Record, add_to
from django_distcache.writebehind.sql import Columns, update_rows

# Errors of one row's values: the row is retried, then dead-lettered; the rest of
# the batch is applied.
ROW_ERRORS = (IntegrityError, DataError, ProgrammingError, ValueError, TypeError, ValidationError)


def apply_rows(
    model: type[models.Model], using: str, records: dict[Any, Record]
) -> dict[Any, Exception]:
    """Write ``records`` (pk -> Record) in batched statements; return the rows that failed.

    The batch is tried whole inside a savepoint; if a row breaks it, each row is
    tried alone so the others are still written.
    """
    if not records:
        return {}
    try:
        with transaction.atomic(using=using):
            _bulk_write(model, using, records.items())
        return {}
    except ROW_ERRORS:
        pass
    failures: dict[Any, Exception] = {}
    for pk, record in records.items():
        try:
            with transaction.atomic(using=using):
                _bulk_write(model, using, [(pk, record)])
        except ROW_ERRORS as exc:
            failures[pk] = exc
    return failures


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
