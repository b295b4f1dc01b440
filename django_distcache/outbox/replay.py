"""Replaying the outbox: detect a Redis that lost state, apply what it lacks, delete what it has.

Runs from the ``django_distcache.replay_invalidations`` task (periodically) and from a
breaker's probe when Redis answers again (``recover``), before the cache is trusted.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from django_distcache.conf import get_settings
from django_distcache.outbox import log
from django_distcache.outbox.apply import bump
from django_distcache.outbox.keys import acked_key, epoch_key, floor_key, member
from django_distcache.outbox.record import outbox_aliases
from django_distcache.outbox.statement import STATEMENT
from django_distcache.redis import outbox as redis_outbox
from django_distcache.redis.client import on_cluster, ping
from django_distcache.redis.errors import OutOfMemoryError, RedisError

# An empty row younger than this is left to its writer, which is applying it now.
WRITER_GRACE = timedelta(seconds=5)


def left_to_writer(payload: Any) -> bool:
    """Whether a young row is its writer's to acknowledge: an empty transaction row, or
    one a statement wrote (the replay takes it if it is still there after WRITER_GRACE)."""
    return payload is None or payload.get("by") == STATEMENT


def recover(alias: str) -> None:
    """Breaker hook: before the cache's Redis is used again, replay everything it lacks."""
    if alias == get_settings().CACHE_ALIAS:
        replay(due_only=False)


def replay(*, due_only: bool = True) -> dict[str, Any]:
    """Apply the outbox rows Redis has not acknowledged and delete those it has.

    ``due_only``: leave empty rows younger than WRITER_GRACE to their writers (the
    periodic task); the breaker's recovery replays every row. Raises RedisError or
    DatabaseError when either is unavailable (nothing is lost: it runs again).
    """
    done = {"replayed": 0, "deleted": 0, "emptied": False, "lost_state": False}
    # Before any lock is taken: a new connection to a server that has not been recovered
    # since it started runs a recovery (this replay, in another thread) first, and that
    # must not wait for the floor lock this one holds (see redis/recovered.py).
    ping()
    for alias in outbox_aliases():
        if _treat_as_empty_if_lost(alias, recovering=not due_only):
            done["lost_state"] = done["emptied"] = True
        limit = int(get_settings().OUTBOX_REPLAY_LIMIT)
        while _replay_round(alias, limit, due_only, done) >= limit:
            pass
    return done


def _treat_as_empty_if_lost(alias: str, *, recovering: bool) -> bool:
    """Compare the deletion rounds of ``alias``'s outbox with what Redis has seen.

    ``recovering``: a server was found restarted or promoted (the breaker's recovery).
    """
    from django_distcache.models import OutboxFloor

    with transaction.atomic(using=alias):
        # Locked: a deletion round of another process cannot interleave.
        floor = OutboxFloor.objects.using(alias).select_for_update().filter(pk=1).first()
        db_rounds = floor.rounds if floor else 0
        redis_rounds = redis_outbox.floor(floor_key(), alias)
        if on_cluster() and recovering:
            # One node's floor says nothing of the others: any node may have gone back in
            # time (a promoted replica), keeping entries elsewhere under generations it
            # now repeats. The epoch starts again at the clock: every entry is gone.
            # NOTE: only when recovering; the periodic replay compares the floor below
            # (a node found restarted or promoted recovers before it is used).
            redis_outbox.drop_key(epoch_key())
            redis_outbox.set_floor(floor_key(), alias, max(db_rounds, redis_rounds))
            log.report_cluster_recovered(alias)
            return True
        if redis_rounds >= db_rounds:
            return False
        bump([epoch_key()], [])
        redis_outbox.set_floor(floor_key(), alias, db_rounds)
    log.report_lost_state(alias, redis_rounds, db_rounds)
    log.report_replayed(0, emptied=True)
    return True


def _replay_round(alias: str, limit: int, due_only: bool, done: dict[str, Any]) -> int:
    """One batch of at most ``limit`` rows; returns how many rows it looked at (0 if it
    could settle none of them)."""
    from django_distcache.models import OutboxEntry

    rows = list(
        OutboxEntry.objects.using(alias)
        .order_by("pk")
        .values_list("pk", "created", "payload")[:limit]
    )
    if not rows:
        return 0
    members = [member(alias, pk) for pk, _created, _payload in rows]
    acked = redis_outbox.acknowledged(acked_key(), members)
    young = timezone.now() - WRITER_GRACE
    waiting = [
        (pk, payload)
        for (pk, created, payload), is_acked in zip(rows, acked, strict=True)
        if not is_acked and not (due_only and left_to_writer(payload) and created > young)
    ]
    if waiting:
        done["emptied"] |= _apply_rows(alias, waiting, len(waiting) >= limit)
        done["replayed"] += len(waiting)
        acked = redis_outbox.acknowledged(acked_key(), members)
    settled = [pk for (pk, _c, _p), is_acked in zip(rows, acked, strict=True) if is_acked]
    if settled:
        _delete(alias, settled)
        done["deleted"] += len(settled)
    # A full batch that settled nothing (young rows left to their writers) ends the replay.
    return len(rows) if settled or waiting else 0


def _apply_rows(alias: str, rows: list[tuple[int, Any]], overflow: bool) -> bool:
    """Apply ``rows`` in one round trip; returns whether the cache was emptied instead.

    A row without keys (its writer died before it could write them) or more rows than
    OUTBOX_REPLAY_LIMIT empty the cache: one epoch bump instead of guessing.
    """
    generations: set[str] = set()
    entries: set[str] = set()
    emptied = overflow or any(payload is None for _pk, payload in rows)
    if emptied:
        generations = {epoch_key()}
    else:
        for _pk, payload in rows:
            generations.update(payload.get("generations", ()))
            entries.update(payload.get("entries", ()))
    bump(sorted(generations), sorted(entries))
    # Applied; an acknowledgement refused for memory leaves the rows for a later replay.
    with suppress(OutOfMemoryError):
        redis_outbox.acknowledge(acked_key(), [member(alias, pk) for pk, _payload in rows])
    log.report_replayed(len(rows), emptied)
    return emptied


def _delete(alias: str, pks: list[int]) -> None:
    """Delete acknowledged rows and raise the floor, in the database and then in Redis."""
    from django_distcache.models import OutboxEntry, OutboxFloor

    with transaction.atomic(using=alias):
        floor, _ = OutboxFloor.objects.using(alias).select_for_update().get_or_create(pk=1)
        OutboxEntry.objects.using(alias).filter(pk__in=pks).delete()
        floor.rounds += 1
        floor.save(update_fields=["rounds"])
        redis_outbox.record_floor(
            floor_key(), acked_key(), alias, floor.rounds, [member(alias, pk) for pk in pks]
        )


def figures(limit: int = 10_000) -> dict[str, Any]:
    """Invalidations waiting in the outbox for Redis: how many and the oldest's age (s).

    Rows Redis has acknowledged but the replay has not deleted yet do not count; while
    Redis cannot be asked, every row that could be waiting does. Counted up to ``limit``.
    """
    from django_distcache.models import OutboxEntry

    now = timezone.now()
    young = now - WRITER_GRACE
    due: list[tuple[str, int, Any]] = []
    for alias in outbox_aliases():
        rows = OutboxEntry.objects.using(alias).filter(
            Q(payload__isnull=False, payload__by__isnull=True)
            | (Q(payload__isnull=False) & ~Q(payload__by=STATEMENT))
            | Q(created__lte=young)
        )
        due += [(alias, pk, created) for pk, created in rows.values_list("pk", "created")[:limit]]
    if due:
        try:
            acked = redis_outbox.acknowledged(acked_key(), [member(a, pk) for a, pk, _c in due])
        except RedisError:
            acked = [0] * len(due)
        due = [row for row, is_acked in zip(due, acked, strict=True) if not is_acked]
    oldest = min((created for _a, _pk, created in due), default=None)
    return {
        "waiting": len(due),
        "oldest_age": None if oldest is None else (now - oldest).total_seconds(),
    }
