"""Capture every ORM write where Django turns it into SQL: the insert, update and delete compilers.

Every write the ORM makes ends in one of three compilers' ``execute_sql``, whatever
called it: ``save()``, ``QuerySet.update/delete/bulk_create/bulk_update`` through any
manager, related managers' bulk paths, the deletion collector's cascades and
``SET_NULL``/``SET_DEFAULT``/``SET()`` updates, ``loaddata`` and migrations'
historical models. Signals miss most of those, so the compilers are the one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models.constants import OnConflict
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In
from django.db.models.signals import post_migrate
from django.db.models.sql import compiler
from django.db.models.sql.constants import MULTI, ROW_COUNT
from django.db.models.sql.where import AND

from django_distcache.invalidation import flush, rawsql, transactions
from django_distcache.invalidation.plans import WritePlan, forget_plans, plan_for
from django_distcache.outbox.record import Row as OutboxRow

__all__ = ["forget_plans", "install"]


def _invalidation(plan: WritePlan, pks: list[Any] | None) -> tuple[tuple[str, ...], set[str]]:
    """(generations, entries) to invalidate for rows ``pks`` (None: rows unknown)."""
    if pks is not None:
        try:
            return plan.generations, plan.entries(pks)
        except (ValidationError, TypeError, ValueError):
            pass  # a value the pk field cannot read: every row of the family goes
    return plan.generations + plan.all_objects, set()


def _record(
    plan: WritePlan,
    using: str,
    pks: list[Any] | None,
    outbox_row: OutboxRow | None = None,
    keys: tuple[tuple[str, ...], set[str]] | None = None,
) -> None:
    """Schedule the invalidation of rows ``pks`` (None: rows unknown) written on ``using``
    (``keys``: its generations and entries, if already worked out)."""
    generations, entries = keys or _invalidation(plan, pks)
    transactions.schedule_invalidation(using, generations, entries, outbox_row=outbox_row)


def _where_pks(query: Any) -> list[Any] | None:
    """The primary keys a WHERE clause selects when it is only ``pk = x`` or ``pk IN (...)``
    (as in save(), bulk_update() and the deletion collector), else None."""
    where = query.where
    if where.connector != AND or where.negated or len(where.children) != 1:
        return None
    lookup = where.children[0]
    if not isinstance(lookup, (Exact, In)) or not isinstance(lookup.lhs, Col):
        return None
    if lookup.lhs.target != query.get_meta().pk:
        return None
    values = [lookup.rhs] if isinstance(lookup, Exact) else lookup.rhs
    if not isinstance(values, (list, tuple, set, frozenset)):
        return None
    if any(hasattr(value, "resolve_expression") for value in values):
        return None
    return list(values)


def _inserted_pks(self: Any, rows: list[Any], returning_fields: Any) -> list[Any] | None:
    if self.query.on_conflict == OnConflict.UPDATE:
        return None  # rows that existed were updated, and which is unknown
    pk = self.query.get_meta().pk
    pks = [obj.__dict__.get(pk.attname) for obj in self.query.objs]
    if None not in pks:
        return pks
    if returning_fields and pk in returning_fields and len(rows) == len(pks):
        index = list(returning_fields).index(pk)
        return [row[index] for row in rows]
    return None


def _wrap_insert(execute_sql: Callable[..., Any]) -> Callable[..., Any]:
    def execute_insert(self: Any, returning_fields: Any = None) -> Any:
        plan = plan_for(self.query.model)
        if plan is None:
            with rawsql.orm_write():
                return execute_sql(self, returning_fields)
        # The row a crash would replay: the rows' keys if known before the insert.
        known = _inserted_pks(self, [], None)
        with (
            rawsql.orm_write(),
            transactions.statement_outbox(self, lambda: _invalidation(plan, known)) as carried,
        ):
            rows = execute_sql(self, returning_fields)
            _record(plan, self.using, _inserted_pks(self, rows, returning_fields), carried.row)
        return rows

    return execute_insert


def _wrap_change(execute_sql: Callable[..., Any]) -> Callable[..., Any]:
    def execute_change(self: Any, result_type: Any = MULTI, *args: Any, **kwargs: Any) -> Any:
        plan = plan_for(self.query.model)
        if plan is None:
            with rawsql.orm_write():
                return execute_sql(self, result_type, *args, **kwargs)
        # Read before running: the update compiler rewrites the WHERE clause as it runs.
        pks = _where_pks(self.query)
        # Worked out once: for the statement's outbox row, then for the invalidation.
        worked_out: list[tuple[tuple[str, ...], set[str]]] = []

        def keys() -> tuple[tuple[str, ...], set[str]]:
            if not worked_out:
                worked_out.append(_invalidation(plan, pks))
            return worked_out[0]

        with rawsql.orm_write(), transactions.statement_outbox(self, keys) as carried:
            result = execute_sql(self, result_type, *args, **kwargs)
            # A count of 0: no row changed (but a row the statement recorded is acknowledged).
            if carried.row is not None or not (result_type == ROW_COUNT and result == 0):
                _record(plan, self.using, pks, carried.row, keys())
        return result

    return execute_change


def _on_post_migrate(using: str = "default", **kwargs: Any) -> None:
    """``migrate`` and ``flush`` rewrite tables without the ORM: forget every tracked model."""
    forget_plans()
    flush.invalidate_every_model(using)


def install() -> None:
    """Wrap the three write compilers and the transaction hooks (once, idempotent)."""
    if getattr(compiler.SQLInsertCompiler, "_distcache_installed", False):
        return
    transactions.install()
    rawsql.install()
    insert, delete, update = (
        compiler.SQLInsertCompiler,
        compiler.SQLDeleteCompiler,
        compiler.SQLUpdateCompiler,
    )
    insert.execute_sql = _wrap_insert(insert.execute_sql)  # type: ignore[method-assign]
    # The delete compiler inherits execute_sql; the update compiler's runs the updates
    # of parent tables through their own compilers, which are wrapped too.
    delete.execute_sql = _wrap_change(delete.execute_sql)  # type: ignore[method-assign]
    update.execute_sql = _wrap_change(update.execute_sql)  # type: ignore[method-assign]
    insert._distcache_installed = True  # type: ignore[attr-defined]
    post_migrate.connect(
        _on_post_migrate,
        sender=apps.get_app_config("django_distcache"),
        dispatch_uid="django_distcache.post_migrate",
    )
