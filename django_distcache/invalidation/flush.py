"""``flush`` empties tables with raw SQL: invalidate every tracked model of that database.

``manage.py flush`` runs ``connection.ops.execute_sql_flush()`` (``TRUNCATE`` or
``DELETE`` statements, no ORM compiler), then sends ``post_migrate``, which the capture
answers; with ``--inhibit-post-migrate`` (as ``TransactionTestCase`` does between tests)
no signal comes. So the flush itself is wrapped: once its statements have run, every
tracked model of that database alias is invalidated, at the commit of any transaction
around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db.backends.base.operations import BaseDatabaseOperations

from django_distcache.invalidation import transactions
from django_distcache.invalidation.plans import plan_for


def invalidate_every_model(using: str) -> None:
    """Invalidate every tracked model (rows, dependents, cached misses) written on ``using``.

    NOTE: one generation bump per tracked model family, in one Redis call at commit.
    """
    generations: list[str] = []
    for model in apps.get_models():
        plan = plan_for(model)
        if plan is not None:
            generations.extend(plan.generations + plan.all_objects)
    transactions.schedule_invalidation(using, generations)


def _wrap(execute_sql_flush: Callable[..., Any]) -> Callable[..., Any]:
    def execute_flush(self: Any, sql_list: Any) -> Any:
        result = execute_sql_flush(self, sql_list)
        if sql_list:
            invalidate_every_model(self.connection.alias)
        return result

    return execute_flush


def install() -> None:
    """Wrap ``execute_sql_flush`` of every backend (once, idempotent)."""
    from django.db import connections

    targets = {BaseDatabaseOperations}
    targets.update(type(connections[alias].ops) for alias in connections)
    for ops in targets:
        flush = ops.__dict__.get("execute_sql_flush")
        if flush is not None and not getattr(flush, "_distcache", False):
            wrapped = _wrap(flush)
            wrapped._distcache = True  # type: ignore[attr-defined]
            ops.execute_sql_flush = wrapped  # type: ignore[method-assign]
