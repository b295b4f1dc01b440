"""When an invalidation runs: at the commit of the transaction that wrote, first of its hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from django_distcache import outbox
from django_distcache.invalidation.apply import PendingInvalidation, apply_invalidation
from django_distcache.outbox import statement
from django_distcache.outbox.record import Row as OutboxRow
from django_distcache.outbox.record import has_outbox

# Attributes kept on a database connection.
_ATOMIC = "_distcache_pending"
_MANUAL = "_distcache_manual_pending"


def _in_transaction(connection: Any) -> bool:
    # The attribute, not get_autocommit(): that would open a connection just to ask.
    return connection.in_atomic_block or (
        connection.connection is not None and not connection.autocommit
    )


def _current_pending(connection: Any) -> PendingInvalidation | None:
    """The pending invalidation of the transaction open on ``connection``, if any yet."""
    if not connection.in_atomic_block:
        pending: PendingInvalidation | None = getattr(connection, _MANUAL, None)
        return pending
    pending = getattr(connection, _ATOMIC, None)
    if pending is not None and any(entry[1] is pending for entry in connection.run_on_commit):
        return pending
    return None


def _pending_for(connection: Any, recorded: OutboxRow | None = None) -> PendingInvalidation:
    """The pending invalidation of the transaction open on ``connection`` (created once,
    with its outbox row: ``recorded`` if the write's statement wrote it, else inserted)."""
    pending = _current_pending(connection)
    if pending is not None:
        return pending
    pending = PendingInvalidation()
    if not connection.in_atomic_block:
        # set_autocommit(False) ... commit(): Django has no on_commit hooks there, so the
        # commit() and rollback() wrappers installed below apply or drop it.
        setattr(connection, _MANUAL, pending)
    else:
        setattr(connection, _ATOMIC, pending)
        # First of the transaction's hooks, and robust: another hook that fails or that
        # reads the cache (a Celery task enqueued on commit) comes after it.
        connection.run_on_commit.insert(0, (set(connection.savepoint_ids), pending, True))
    pending.outbox = recorded or outbox.record(connection.alias)
    return pending


@contextmanager
def statement_outbox(
    compiler: Any, keys: Callable[[], tuple[Iterable[str], Iterable[str]]]
) -> Iterator[statement.Carried]:
    """Let the write ``compiler`` runs in the block carry the outbox row, when it needs one
    (the block records the write's invalidation too).

    Outside a transaction the row holds the keys the write invalidates (``keys()``:
    generations, entries) and the yielded ``row`` is what to acknowledge. A
    transaction's first write carries the transaction's (empty) row, made pending
    here, before the statement, so that writes it runs itself (parents' tables) join it.
    """
    connection = compiler.connection
    if not statement.supported(connection):
        if _in_transaction(connection) or not has_outbox(connection.alias):
            yield statement.Carried()
            return
        # NOTE: elsewhere than on PostgreSQL, a write outside a transaction is made one
        # (its statement, the outbox row and the commit): its invalidation is as durable.
        with transaction.atomic(using=connection.alias):
            yield statement.Carried()
        return
    if not _in_transaction(connection):

        def payload() -> dict[str, Any]:
            generations, entries = keys()
            return {
                "generations": sorted(generations),
                "entries": sorted(entries),
                "by": statement.STATEMENT,
            }

        with statement.carried_by(compiler, payload) as carried:
            yield carried
        return
    if _current_pending(connection) is not None:
        yield statement.Carried()
        return
    # NOTE: a statement that fails aborts the PostgreSQL transaction, or the savepoint
    # that this pending belongs to (rolling back drops it): nothing to repair then.
    with statement.carried_by(compiler, lambda: None) as carried:
        pending = _pending_for(connection, carried.planned)
        yield statement.Carried()
    if carried.row is None and pending.outbox == carried.planned:
        # Django sent no statement (it could change nothing): the row goes on its own.
        pending.outbox = outbox.record(connection.alias)


def schedule_invalidation(
    using: str | None,
    generations: Iterable[str] = (),
    entries: Iterable[str] = (),
    *,
    outbox_row: OutboxRow | None = None,
) -> None:
    """Invalidate when the transaction on ``using`` commits, or now outside one.

    ``using=None``: when every transaction open in this thread has committed (at the
    first commit, and again at each later one), or now if none is open. ``outbox_row``:
    the row the write's own statement recorded (acknowledged once applied).
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
        apply_invalidation(generations, entries, outbox=outbox_row)
        return
    _pending_for(connection, outbox_row).add(generations, entries)


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
