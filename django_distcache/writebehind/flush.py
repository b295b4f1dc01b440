"""Flush buffered writes to the database in batches, each row's effect applied once.

A flush claims a batch (the rows move to batch-owned keys), locks the rows, records
its transaction id in the batch, applies the batch in batched statements (see sql.py) in that
transaction, commits, and only then acknowledges the batch in Redis. A flush that
dies leaves its batch to be recovered once its lease runs out: the database is asked
whether the recorded transaction committed, and the batch is either acknowledged or
put back in front of newer writes. So no write is lost and no increment applied twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from django.db import models, router, transaction

from django_distcache import keys
from django_distcache.conf import get_settings
from django_distcache.invalidation import invalidate_objects, schedule_invalidation
from django_distcache.redis import buffer
from django_distcache.redis.client import buffer_shares_cache
from django_distcache.registry import ModelRef, resolve_model, write_behind_models
from django_distcache.writebehind.buffer import (
    BufferKeys,
    Record,
    buffer_keys,
    lease_expiry,
    new_batch_id,
    now_ms,
    parse_record,
    write_behind_config,
)
from django_distcache.writebehind.marks import settle_marks
from django_distcache.writebehind.outcome import dead_letter, record_decisions
from django_distcache.writebehind.recovery import recover_stale_batches
from django_distcache.writebehind.rows import apply_rows
from django_distcache.writebehind.settle import (
    DATABASE_DOWN,
    BatchOutcome,
    cached_rows,
    refresh_entries,
    settle_failed_batch,
)
from django_distcache.writebehind.transactions import begin_flush_transaction

logger = logging.getLogger("django_distcache")

# How long (ms) a row locked by another transaction waits before the next try.
LOCKED_RETRY_MS = 1000


class BatchLost(RuntimeError):
    """The batch was recovered by another flush before this one began writing it."""


def flush_write_behind(model: ModelRef | None = None) -> dict[str, int]:
    """Flush the buffered writes of ``model`` (a class or "app.Model"), or of every model.

    Runs in this process; returns counts: batches, rows (written to the database),
    writes (buffered writes those rows held), coalesced (writes saved by
    coalescing), dead_lettered, retried (including rows left for later because another
    transaction held their lock), superseded, recovered.
    """
    targets = [resolve_model(model)] if model is not None else write_behind_models()
    totals: Counter[str] = Counter()
    for target in targets:
        write_behind_config(target)
        totals.update(flush_model(target))
    result = {name: totals.get(name, 0) for name in _COUNT_NAMES}
    return result


_COUNT_NAMES = (
    "batches",
    "rows",
    "writes",
    "coalesced",
    "dead_lettered",
    "retried",
    "superseded",
    "recovered",
)


def flush_model(model: type[models.Model], *, time_limit: float | None = None) -> Counter[str]:
    """Recover stale batches, then flush the rows due when it started, batch by batch
    (until none is left or time runs out)."""
    conf = get_settings()
    using = router.db_for_write(model)
    counts: Counter[str] = Counter()
    settle_marks(model, using)
    counts["recovered"] += recover_stale_batches(model, using)
    due_by = now_ms()
    deadline = time.monotonic() + (time_limit or conf.WRITE_BEHIND_LEASE_TIMEOUT / 2)
    while time.monotonic() < deadline:
        batch_counts = flush_batch(model, using, due_by=due_by)
        if batch_counts is None:
            break
        counts.update(batch_counts)
    return counts


def _items(data: bytes) -> list[bytes]:
    """Split a string of length-prefixed items ("3:abc2:de")."""
    items, position, size = [], 0, len(data)
    while position < size:
        colon = data.index(b":", position)
        start = colon + 1
        end = start + int(data[position:colon])
        items.append(data[start:end])
        position = end
    return items


def _records(data: bytes) -> dict[str, Record]:
    """The rows returned by wb_begin (pk, field count, then field and value pairs)."""
    items = _items(data)
    records, index = {}, 0
    while index < len(items):
        pk, count = items[index].decode(), int(items[index + 1])
        records[pk] = parse_record(items[index + 2 : index + 2 + count])
        index += 2 + count
    return records


def flush_batch(
    model: type[models.Model], using: str, *, due_by: int | None = None
) -> Counter[str] | None:
    """Claim, apply and acknowledge one batch of rows due by ``due_by`` (ms; now by
    default); None when nothing is due."""
    claimed = claim_batch(model, due_by=due_by)
    if claimed is None:
        return None
    batch_id, pks = claimed
    bkeys = buffer_keys(model)
    outcome = BatchOutcome()
    cached = cached_rows(model, using, pks)
    try:
        apply_batch(model, using, bkeys, batch_id, pks, outcome)
    except BatchLost:
        return Counter()
    except DATABASE_DOWN:
        # NOTE: a lost connection is no fault of the rows: no attempt is counted.
        if not settle_failed_batch(model, using, batch_id, pks, outcome, attempts=0):
            raise
    except Exception as exc:
        # Not an error of one row (those are set aside in apply_rows): every row goes
        # back with an attempt counted and the error; rows at WRITE_BEHIND_MAX_ATTEMPTS
        # are dead-lettered by the next flush.
        error = f"{type(exc).__name__}: {exc}".strip()[:500]
        settle_failed_batch(model, using, batch_id, pks, outcome, attempts=1, error=error)
        raise
    else:
        dropped = outcome.acknowledge(model, batch_id)
        if dropped is not None:
            done = set(outcome.done)
            refresh_entries(model, using, sorted({*dropped, *(pk for pk in cached if pk in done)}))
    outcome.counts["batches"] += 1
    return outcome.counts


def claim_batch(
    model: type[models.Model], *, due_by: int | None = None
) -> tuple[str, list[str]] | None:
    """Claim up to WRITE_BEHIND_BATCH_SIZE due rows: (batch id, pks), or None."""
    conf = get_settings()
    bkeys = buffer_keys(model)
    due = due_by or now_ms()
    limit = conf.WRITE_BEHIND_BATCH_SIZE
    # Read first: the script must be given every key it touches (Redis Cluster).
    # NOTE: one round trip more per batch.
    pks = buffer.due_members(bkeys.pending, due, limit * 2)
    if not pks:
        return None
    batch_id = new_batch_id()
    claimed = buffer.run_script(
        "claim",
        [
            bkeys.pending,
            bkeys.claimed,
            bkeys.batches,
            bkeys.batch(batch_id),
            *bkeys.rows(pks, "record", "held"),
        ],
        [due, limit, batch_id, lease_expiry(), *pks],
    )
    if not claimed:
        return None
    return batch_id, [pk.decode() for pk in claimed]


def apply_batch(
    model: type[models.Model],
    using: str,
    bkeys: BufferKeys,
    batch_id: str,
    pks: list[str],
    outcome: BatchOutcome | None = None,
) -> BatchOutcome:
    """Write a claimed batch in one transaction (committed on return); what becomes of
    each row goes into ``outcome``. The caller acknowledges it."""
    conf = get_settings()
    pk_field = model._meta.pk
    values = {pk: pk_field.to_python(pk) for pk in pks}
    outcome = outcome if outcome is not None else BatchOutcome()
    counts, done, dead, retry = outcome.counts, outcome.done, outcome.dead, outcome.retry
    with transaction.atomic(using=using):
        existing, busy = _lock_rows(model, using, values)
        txid = begin_flush_transaction(using)
        flat = buffer.run_script(
            "begin",
            [bkeys.batches, bkeys.batch(batch_id), bkeys.txids, *bkeys.rows(pks, "held")],
            [batch_id, txid, lease_expiry(), *pks],
        )
        if flat is None:
            raise BatchLost(batch_id)
        outcome.txid = txid
        records = _records(flat)
        to_apply: dict[str, Record] = {}
        for pk, record in records.items():
            if record.empty:
                counts["superseded"] += 1
                done.append(pk)
            elif pk in busy:
                # Another transaction holds the row: waiting for it would stall the batch.
                retry.append((pk, now_ms() + LOCKED_RETRY_MS, 0, ""))
                counts["retried"] += 1
            elif pk not in existing:
                dead.append((pk, dead_letter(model, pk, record, "the row no longer exists")))
            elif record.attempts >= conf.WRITE_BEHIND_MAX_ATTEMPTS:
                # Its earlier flushes failed as a whole (see flush_batch).
                dead.append((pk, dead_letter(model, pk, record, record.error)))
            elif record.crashes > conf.WRITE_BEHIND_MAX_ATTEMPTS or (
                record.crashes >= conf.WRITE_BEHIND_MAX_ATTEMPTS and len(records) == 1
            ):
                # Flushed alone since its first death (wb_claim), it died again each time.
                error = f"{record.error} {record.crashes} times"
                dead.append((pk, dead_letter(model, pk, record, error)))
            else:
                to_apply[pk] = record
        failures = apply_rows(model, using, {values[pk]: r for pk, r in to_apply.items()})
        failed_pks = {str(_key_form(pk)): exc for pk, exc in failures.items()}
        for pk, record in to_apply.items():
            exc = failed_pks.get(pk)
            if exc is None:
                done.append(pk)
                counts["rows"] += 1
                counts["writes"] += record.writes
                counts["coalesced"] += max(0, record.writes - 1)
                continue
            error = f"{type(exc).__name__}: {exc}".strip()[:500]
            if record.attempts + 1 >= conf.WRITE_BEHIND_MAX_ATTEMPTS:
                dead.append((pk, dead_letter(model, pk, record, error, attempts=1)))
            else:
                delay = conf.WRITE_BEHIND_RETRY_BACKOFF * (2**record.attempts)
                retry.append((pk, now_ms() + int(delay * 1000), 1, error))
                counts["retried"] += 1
        written = [values[pk] for pk in done]
        if written and buffer_shares_cache():
            # The acknowledgement drops the rows' entries; dependents go with the model's
            # generation.
            schedule_invalidation(using, [keys.model_generation(model)])
        elif written:
            invalidate_objects(model, written, using=using)
        if retry or dead:
            record_decisions(bkeys, batch_id, retry, dead)
    counts["dead_lettered"] += len(dead)
    return outcome


def _lock_rows(
    model: type[models.Model], using: str, values: dict[str, Any]
) -> tuple[set[str], set[str]]:
    """Lock the batch's rows, skipping rows another transaction holds: (locked, busy).
    A row in neither no longer exists. NOTE: one more query when a row was skipped."""
    manager = model._base_manager.using(using)
    wanted = list(values.values())
    locked = {
        str(_key_form(pk))
        for pk in manager.select_for_update(skip_locked=True)
        .filter(pk__in=wanted)
        .order_by("pk")
        .values_list("pk", flat=True)
    }
    if len(locked) == len(values):
        return locked, set()
    others = [values[pk] for pk in values if pk not in locked]
    busy = {str(_key_form(pk)) for pk in manager.filter(pk__in=others).values_list("pk", flat=True)}
    return locked, busy


def _key_form(pk: Any) -> Any:
    return pk.hex if hasattr(pk, "hex") and not isinstance(pk, (int, float)) else pk
