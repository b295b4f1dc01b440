"""What waits in the write-behind buffer: per-model backlog and dead letters."""

from __future__ import annotations

import time
from typing import Any

from django_distcache.redis import buffer
from django_distcache.writebehind.buffer import BufferKeys, models_key


def _labels() -> list[str]:
    from django_distcache.writebehind.flush import write_behind_models

    labels = {m._meta.label_lower for m in write_behind_models()}
    labels.update(buffer.members(models_key()))
    return sorted(labels)


def backlog() -> list[dict[str, Any]]:
    """One dict per model with pending writes or dead letters.

    Keys: model, pending (rows waiting, including rows of batches in flight),
    oldest_age (seconds since the oldest write not yet in the database was made,
    whether its row waits, is in flight, retried or stranded; or None), dead_letters,
    in_flight, rows and writes (flushed so far; writes / rows is the coalescing ratio).
    """
    labels = _labels()
    answers = buffer.backlog_reads([BufferKeys(label) for label in labels])
    now = time.time()
    result = []
    for index, label in enumerate(labels):
        waiting, due, in_flight, dead, (rows, writes), since = answers[6 * index : 6 * index + 6]
        firsts = [row[0][1] for row in (due, since) if row]
        if not (waiting or in_flight or dead):
            continue
        result.append(
            {
                "model": label,
                "pending": waiting + in_flight,
                "oldest_age": max(0.0, now - min(firsts) / 1000) if firsts else None,
                "dead_letters": dead,
                "in_flight": in_flight,
                "rows": int(rows or 0),
                "writes": int(writes or 0),
            }
        )
    return result
