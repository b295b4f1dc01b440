"""What becomes of a batch's rows in Redis: acknowledged, put back, or dead-lettered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from django.db import models

from django_distcache.conf import get_settings
from django_distcache.keys import lease_key
from django_distcache.reads import readthrough
from django_distcache.redis import buffer
from django_distcache.redis.client import buffer_shares_cache
from django_distcache.writebehind.buffer import (
    BufferKeys,
    Record,
    buffer_keys,
    write_behind_config,
)


def record_decisions(
    bkeys: BufferKeys,
    batch_id: str,
    retry: list[tuple[str, int, int, str]],
    dead: list[tuple[str, bytes]],
) -> None:
    """Keep in the batch what becomes of its failed rows, so that a flush recovering
    it after this transaction committed neither drops nor re-applies them."""
    mapping: dict[str, Any] = {f"d:{pk}": item for pk, item in dead}
    for pk, score, added, error in retry:
        mapping[f"r:{pk}"] = f"{score}|{added}|{error}"
    buffer.set_fields(bkeys.batch(batch_id), mapping)


def dead_letter(
    model: type[models.Model], pk: str, record: Record, error: str, *, attempts: int = 0
) -> bytes:
    """The encoded dead-letter item of a row that will not be written."""
    item = {
        "model": model._meta.label_lower,
        "pk": pk,
        "values": record.values,
        "increments": record.increments,
        "writes": record.writes,
        "attempts": record.attempts + attempts,
        "error": error,
        "failed_at": datetime.now(timezone.utc).isoformat(),
    }
    return readthrough.serializer().dumps(item)


def acknowledge(
    model: type[models.Model],
    batch_id: str,
    *,
    done: Iterable[str] = (),
    retry: Iterable[tuple[str, int, int, str]] = (),
    dead: Iterable[tuple[str, bytes]] = (),
    writes: int = 0,
) -> list[str] | None:
    """Finish a batch in Redis (once; a repeated ack does nothing and returns None).
    ``writes``: how many buffered writes the done rows held (for the coalescing
    ratio). Returns the pks of the written rows whose cached entries were dropped.

    The entries (and leases) of the rows done or dead are deleted in the same round
    trip, just before the batch is acknowledged: a read in between misses and loads
    the row, whose batch it then sees committed (overlay.py), never an entry without
    the writes that were just acknowledged.
    """
    bkeys = buffer_keys(model)
    config = write_behind_config(model)
    done, retry, dead = list(done), list(retry), list(dead)
    rows = [*done, *(item[0] for item in retry), *(pk for pk, _letter in dead)]
    keys_ = [
        bkeys.batches,
        bkeys.claimed,
        bkeys.batch(batch_id),
        bkeys.pending,
        bkeys.dead,
        bkeys.stats,
        bkeys.since,
        bkeys.txids,
        *bkeys.rows(rows, "held", "record", "flag", "row_marks"),
    ]
    args: list[Any] = [batch_id, writes, len(done), *done, len(retry)]
    for retried in retry:
        args.extend(retried)
    args.append(len(dead))
    for pk, letter in dead:
        args.extend((pk, letter))
    args.append(int(get_settings().WRITE_BEHIND_DEAD_LETTERS_KEPT))
    bases = [*done, *(pk for pk, _letter in dead)] if buffer_shares_cache() else []
    drops = []
    for pk in bases:
        entry = config.object_base(pk)
        drops.append(("DEL", entry, lease_key(entry)))
    *deleted, acked = buffer.run_script_after(drops, "ack", keys_, args)
    if not acked:
        return None
    return [pk for pk, count in zip(bases, deleted, strict=True) if count]
