"""Writing outbox rows: an empty one inside the transaction, the exact keys when applying failed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.db import DatabaseError, connections, router

logger = logging.getLogger("django_distcache")

# (database alias, row id) of an outbox row.
Row = tuple[str, int]


@cache
def _routed_here(alias: str) -> bool:
    from django_distcache.models import OutboxEntry

    return alias in connections and router.allow_migrate_model(alias, OutboxEntry)


_migrated: set[str] = set()


def has_outbox(alias: str) -> bool:
    """Whether database ``alias`` holds the outbox table: the router lets it migrate there
    and it exists (writes made by migrations that run before the app's own record none).

    NOTE: until the table exists, each call asks the database for its tables.
    """
    if alias in _migrated:
        return True
    if not _routed_here(alias):
        return False
    from django_distcache.models import OutboxEntry

    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if OutboxEntry._meta.db_table not in tables:
        return False
    _migrated.add(alias)
    return True


def outbox_aliases() -> list[str]:
    """Every database alias that holds an outbox."""
    return [alias for alias in connections if has_outbox(alias)]


def record(using: str) -> Row | None:
    """Insert this transaction's outbox row (inside it); None if ``using`` has no outbox.

    NOTE: one INSERT per transaction that touched cached data, whatever it wrote; the
    keys are only written out if applying them after commit fails (``keep``).
    """
    if not has_outbox(using):
        return None
    from django_distcache.models import OutboxEntry

    return using, OutboxEntry.objects.using(using).create().pk


def keep(
    row: Row | None, generations: Iterable[str], entries: Iterable[str], why: Any
) -> Row | None:
    """Keep an invalidation that Redis does not have (yet) for the replay; its row, or
    None if it was lost.

    The row written inside the transaction gets its keys; a write made outside a
    transaction gets a row now (its commit came before its signal).
    """
    from django_distcache.models import OutboxEntry
    from django_distcache.outbox.log import report_kept, report_lost

    payload = {"generations": sorted(generations), "entries": sorted(entries)}
    try:
        if row is not None:
            OutboxEntry.objects.using(row[0]).filter(pk=row[1]).update(payload=payload)
        else:
            aliases = outbox_aliases()
            if not aliases:
                raise DatabaseError("no database holds the outbox table")
            row = aliases[0], OutboxEntry.objects.using(aliases[0]).create(payload=payload).pk
    except DatabaseError as exc:
        report_lost(payload, f"{why}; and the outbox could not keep it: {exc}")
        return None
    report_kept(payload, why)
    return row
