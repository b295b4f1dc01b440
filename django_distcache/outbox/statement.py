"""The outbox row written by the write's own SQL statement (PostgreSQL), at no extra round trip.

On PostgreSQL a data-modifying ``WITH`` runs in the statement it prefixes, so the row
exists if and only if the statement's changes commit. That closes the window a write
made outside a transaction had (its commit came before any separate insert could), and
saves the separate ``INSERT`` a transaction's first write needed.

NOTE: the row's id is chosen above any id the table's own sequence will reach, so the
writer knows what to acknowledge without reading the row back: each process counts up
from a point drawn at random (its rows land next to each other in the table's index).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import connections

from django_distcache.outbox.record import Row, has_outbox

# Ids the writers draw: 2**62 .. 2**63 - 1, never reached by a bigint sequence from 1.
_LOWEST_ID = 2**62
# Each process counts up from a random start at least this far below the top.
_IDS_PER_PROCESS = 2**40

_ids: tuple[int, Iterator[int]] = (0, iter(()))


def _next_id() -> int:
    """The next outbox row id of this process (drawn again after a fork)."""
    global _ids
    pid, ids = _ids
    if pid != os.getpid():
        start = _LOWEST_ID + secrets.randbelow(2**62 - _IDS_PER_PROCESS)
        _ids = pid, ids = os.getpid(), itertools.count(start)
    return next(ids)


Payload = dict[str, Any]
# The payload's "by" of a row a statement wrote: the writer acknowledges it in a moment.
STATEMENT = "statement"


def supported(connection: Any) -> bool:
    """Whether writes on ``connection`` can carry their outbox row."""
    return connection.vendor == "postgresql" and has_outbox(connection.alias)


@cache
def _insert_prefix(alias: str) -> str:
    """``WITH ... INSERT`` of a row into ``alias``'s outbox table, to prefix a statement."""
    from django_distcache.models import OutboxEntry

    quote = connections[alias].ops.quote_name
    meta = OutboxEntry._meta
    column = {field.name: quote(field.column or field.name) for field in meta.concrete_fields}
    return (
        f'WITH "distcache_outbox" AS (INSERT INTO {quote(meta.db_table)} '
        f"({column['id']}, {column['created']}, {column['payload']}) "
        "VALUES (%s, STATEMENT_TIMESTAMP(), %s::jsonb)) "
    )


def _with_row(connection: Any, row_id: int, payload: Payload | None) -> tuple[str, list[Any]]:
    body = None if payload is None else json.dumps(payload)
    return _insert_prefix(connection.alias), [row_id, body]


class Carried:
    """The outbox row a statement carries: ``row`` once the statement ran with it."""

    def __init__(self, row: Row | None = None) -> None:
        self.planned = row
        self.row: Row | None = None


@contextmanager
def carried_by(compiler: Any, payload: Callable[[], Payload | None]) -> Iterator[Carried]:
    """Run the block with ``compiler``'s statement prefixed by the insert of an outbox row.

    ``payload()``: the keys to write in the row (None: an empty row, whose replay
    empties the cache, for a transaction that writes its keys only if applying fails).
    The yielded ``row`` stays None if the statement was not sent (Django found it
    could change nothing) or the database cannot carry the row.
    """
    connection = compiler.connection
    if not supported(connection):
        yield Carried()
        return
    carried = Carried((connection.alias, _next_id()))
    prefix, prefix_params = _with_row(connection, carried.planned[1], payload())  # type: ignore[index]
    as_sql = compiler.as_sql

    def prefixed_as_sql(*args: Any, **kwargs: Any) -> Any:
        compiled = as_sql(*args, **kwargs)
        if isinstance(compiled, list):  # the insert compiler: (sql, params) per statement
            (sql, params), *rest = compiled
            carried.row = carried.planned
            return [(prefix + sql, (*prefix_params, *params)), *rest]
        sql, params = compiled
        if not sql:  # nothing to run on this table (Django skips it)
            return compiled
        carried.row = carried.planned
        return prefix + sql, (*prefix_params, *params)

    compiler.as_sql = prefixed_as_sql
    try:
        yield carried
    except BaseException:
        carried.row = None  # the statement failed, and its row with it
        raise
    finally:
        del compiler.as_sql
