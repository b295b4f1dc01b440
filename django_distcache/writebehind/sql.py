"""Batched row updates: one UPDATE ... FROM (VALUES ...) per group on PostgreSQL,
Django's bulk_update (CASE WHEN, F() for increments) elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models
from django.db.models import F, Value
from django.db.models.functions import Coalesce

# (attname, kind) per column: kind "set" writes the value, "add" adds it to the column.
Columns = tuple[tuple[str, str], ...]
# Rows per statement.
STATEMENT_ROWS = 1000


def update_rows(
    model: type[models.Model], using: str, columns: Columns, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Apply ``rows`` of (pk, value per column) to ``model``'s table."""
    if orm_writes(using):
        _update_generic(model, using, columns, rows)
    else:
        for start in range(0, len(rows), STATEMENT_ROWS):
            _update_postgresql(model, using, columns, rows[start : start + STATEMENT_ROWS])


def orm_writes(using: str) -> bool:
    """Whether batches are written through the ORM (``bulk_update``, on databases other
    than PostgreSQL): its invalidation then drops the rows' entries at the commit."""
    return connections[using].vendor != "postgresql"


def _update_postgresql(
    model: type[models.Model], using: str, columns: Columns, rows: Sequence[tuple[Any, ...]]
) -> None:
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.pk] + [meta.get_field(attname) for attname, _kind in columns]
    aliases = ["pk"] + [f"c{index}" for index in range(len(columns))]
    assignments = []
    for (_attname, kind), field, alias in zip(columns, fields[1:], aliases[1:], strict=True):
        column = quote(field.column)
        value = f"v.{alias}::{field.db_type(connection)}"
        assignments.append(
            # NULL + n = n: the rule the read overlay follows too (buffer.add_to).
            f"{column} = COALESCE(t.{column}, 0) + {value}"
            if kind == "add"
            else f"{column} = {value}"
        )
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for row in rows:
        for field, value in zip(fields, row, strict=True):
            params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(assignments)} "
        f"FROM (VALUES {', '.join([placeholder] * len(rows))}) AS v({', '.join(aliases)}) "
        f"WHERE t.{quote(meta.pk.column)} = v.pk::{meta.pk.db_type(connection)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _update_generic(
    model: type[models.Model], using: str, columns: Columns, rows: Sequence[tuple[Any, ...]]
) -> None:
    objs = []
    for pk, *values in rows:
        obj = model(pk=pk)
        for (attname, kind), value in zip(columns, values, strict=True):
            setattr(obj, attname, _added(attname, value) if kind == "add" else value)
        objs.append(obj)
    model._base_manager.using(using).bulk_update(
        objs, [attname for attname, _kind in columns], batch_size=STATEMENT_ROWS
    )


def _added(attname: str, amount: Any) -> Any:
    """The column plus ``amount``, a NULL column counting as 0."""
    return Coalesce(F(attname), Value(0)) + amount
