"""Ask the database whether a flush's transaction committed (PostgreSQL txid status)."""

from __future__ import annotations

from django.db import connections


def supports_commit_status(using: str) -> bool:
    """Whether ``using`` can tell later if a transaction committed (PostgreSQL)."""
    return connections[using].vendor == "postgresql"


def begin_flush_transaction(using: str) -> str:
    """Prepare the open transaction for a flush and return its id ('' if unknown).

    On PostgreSQL, constraints are checked per statement (a deferred foreign key
    would fail the whole batch at COMMIT, where no row can be set aside).
    """
    if not supports_commit_status(using):
        return ""
    with connections[using].cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return current_txid(using)


def current_txid(using: str) -> str:
    """The id of the open transaction ('' if the database cannot tell its status later)."""
    if not supports_commit_status(using):
        return ""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return str(cursor.fetchone()[0])


def commit_status(using: str, txid: str) -> str:
    """'committed', 'aborted', 'in progress' or 'unknown' for transaction ``txid``."""
    if not txid or not supports_commit_status(using):
        return "unknown"
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT txid_status(%s)", [int(txid)])
        status = cursor.fetchone()[0]
    return status or "unknown"
