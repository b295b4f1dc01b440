"""When an invalidation runs: at the commit of the transaction that wrote, first of its hooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from django_distcache import outbox
from django_distcache.invalidation.apply import PendingInvalidation, apply_invalidation

# Attributes kept on a database connection.
_ATOMIC = "_distcache_pending"
_MANUAL = "_distcache_manual_pending"


def _in_transaction(connection: Any) -> bool:
    # The attribute, not get_autocommit(): that would open a connection just to ask.
    return connection.in_atomic_block or (
        connection.connection is not None and not connection.autocommit
    )


def _pending_for(connection: Any) -> PendingInvalidation:
    """The pending invalidation of the transaction open on ``connection`` (created once)."""
    if not connection.in_atomic_block:
        # set_autocommit(False) ... commit(): Django has no on_commit hooks there, so the
        # commit() and rollback() wrappers installed below apply or drop it.
        pending = getattr(connection, _MANUAL, None)
        if pending is None:
            pending = PendingInvalidation()
            setattr(connection, _MANUAL, pending)
            pending.outbox = outbox.record(connection.alias)
        return pending
    pending = getattr(connection, _ATOMIC, None)
    if pending is not None and any(entry[1] is pending for entry in connection.run_on_commit):
        return pending
    pending = PendingInvalidation()
    setattr(connection, _ATOMIC, pending)
    # First of the transaction's hooks, and robust: another hook that fails or that
    # reads the cache (a Celery task enqueued on commit) comes after it.
    connection.run_on_commit.insert(0, (set(connection.savepoint_ids), pending, True))
    pending.outbox = outbox.record(connection.alias)
    return pending


def schedule_invalidation(
    using: str | None, generations: Iterable[str] = (), entries: Iterable[str] = ()
) -> None:
    """Invalidate when the transaction on ``using`` commits, or now outside one.

    ``using=None``: when every transaction open in this thread has committed (at the
    first commit, and again at each later one), or now if none is open.
    """
    if using is None:
        open_ = [c for c in connections.all(initialized_only=True) if _in_transaction(c)]
        if not open_:
            apply_invalidation(generations, entries)
            return
        generations, entries = list(generations), list(entries)
        for connection in open_:
            _pending_for(connection).add(generations, entries)
        return
    connection = transaction.get_connection(using)
    if not _in_transaction(connection):
        apply_invalidation(generations, entries)
        return
    _pending_for(connection).add(generations, entries)


def pending_touches(using: str, generation_keys: Iterable[str], key: str | None = None) -> bool:
    """Whether the open transaction on ``using`` has uncommitted writes to this entry.

    Such reads bypass the cache: they may see the transaction's own writes, which
    must never be cached, and the cached value may be older than them.
    """
    connection = transaction.get_connection(using)
    manual = getattr(connection, _MANUAL, None)
    if not connection.in_atomic_block:
        return manual is not None and manual.touches(tuple(generation_keys), key)
    generation_keys = tuple(generation_keys)
    if manual is not None and manual.touches(generation_keys, key):
        return True
    for entry in connection.run_on_commit:
        callback = entry[1]
        if isinstance(callback, PendingInvalidation) and callback.touches(generation_keys, key):
            return True
    return False


def install() -> None:
    """Make ``connection.commit()`` apply, and ``rollback()`` drop, a manual transaction's
    invalidation (once)."""
    if getattr(BaseDatabaseWrapper.commit, "distcache", False):
        return
    commit, rollback = BaseDatabaseWrapper.commit, BaseDatabaseWrapper.rollback

    def commit_then_invalidate(self: Any) -> None:
        commit(self)
        pending = self.__dict__.pop(_MANUAL, None)
        if pending is not None:
            pending()

    def rollback_and_forget(self: Any) -> None:
        rollback(self)
        self.__dict__.pop(_MANUAL, None)

    commit_then_invalidate.distcache = True  # type: ignore[attr-defined]
    BaseDatabaseWrapper.commit = commit_then_invalidate  # type: ignore[method-assign]
    BaseDatabaseWrapper.rollback = rollback_and_forget  # type: ignore[method-assign]
