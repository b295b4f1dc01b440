"""Opt-in: invalidate the tables that raw ``cursor.execute`` writes name (RAW_SQL_INVALIDATION).

NOTE: costs a regular expression match per statement sent on a connection opened while
the setting is on (ORM writes are skipped: the compilers capture them with their rows).
Only the statement's own target table is seen: writes made by triggers, functions,
procedures or other programs are not.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db import models
from django.db.backends.signals import connection_created

from django_distcache.conf import get_settings
from django_distcache.invalidation import transactions
from django_distcache.invalidation.plans import plan_for

# Statements that write, with the table (or TRUNCATE's list of tables) they write.
_WRITE = re.compile(
    r"^\s*(?:WITH\s.*?\)\s*)?"
    r"(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+ONLY)?|"
    r"DELETE\s+FROM(?:\s+ONLY)?|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?)"
    r"\s+((?:[`\"\[]?[\w$.]+[`\"\]]?\s*,\s*)*[`\"\[]?[\w$.]+[`\"\]]?)",
    re.IGNORECASE | re.DOTALL,
)
_orm = threading.local()


class orm_write:
    """Marks an ORM write in progress, which the wrapper leaves to the compilers."""

    def __enter__(self) -> None:
        _orm.depth = getattr(_orm, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _orm.depth -= 1


def written_tables(sql: str) -> set[str]:
    """The tables a statement (or ``;``-separated statements) writes, lower case."""
    tables: set[str] = set()
    for statement in sql.split(";"):
        match = _WRITE.match(statement)
        if match:
            for name in match.group(1).split(","):
                tables.add(name.strip().strip('`"[]').rpartition(".")[2].lower())
    return tables


def _models_by_table() -> dict[str, list[type[models.Model]]]:
    found: dict[str, list[type[models.Model]]] = {}
    for model in apps.get_models(include_auto_created=True):
        found.setdefault(model._meta.db_table.lower(), []).append(model)
    return found


def invalidate_tables(tables: set[str], using: str) -> None:
    """Invalidate everything cached of the models stored in ``tables`` (rows unknown)."""
    by_table = _models_by_table()
    generations: list[str] = []
    for table in tables:
        for model in by_table.get(table, ()):
            plan = plan_for(model)
            if plan is not None:
                generations.extend(plan.generations + plan.all_objects)
    if generations:
        transactions.schedule_invalidation(using, generations)


def _wrapper(alias: str) -> Callable[..., Any]:
    def invalidate_raw_writes(
        execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if getattr(_orm, "depth", 0) or not isinstance(sql, str):
            return result
        # Turned off since this connection opened (override_settings, tests).
        if get_settings().RAW_SQL_INVALIDATION is True:
            tables = written_tables(sql)
            if tables:
                invalidate_tables(tables, alias)
        return result

    invalidate_raw_writes.distcache = True  # type: ignore[attr-defined]
    return invalidate_raw_writes


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if get_settings().RAW_SQL_INVALIDATION is not True:
        return
    # A connection object reconnects (after close()) and announces itself again.
    if not any(getattr(w, "distcache", False) for w in connection.execute_wrappers):
        connection.execute_wrappers.append(_wrapper(connection.alias))


def install() -> None:
    """Wrap connections opened from now on while RAW_SQL_INVALIDATION is True."""
    connection_created.connect(
        _on_connection_created, dispatch_uid="django_distcache.raw_sql_invalidation"
    )
