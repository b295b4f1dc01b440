"""What waits in the write-behind buffer: per-model backlog and dead letters."""

from __future__ import annotations

import time
from typing import Any

from django_distcache.redis import routed
from django_distcache.redis.client import get_buffer_redis
from django_distcache.writebehind.buffer import BufferKeys, models_key


def _labels() -> list[str]:
    from django_distcache.writebehind.flush import write_behind_models

    labels = {m._meta.label_lower for m in write_behind_models()}
    members: Any = get_buffer_redis().smembers(models_key())
    labels.update(raw.decode() for raw in members)
    return sorted(labels)


def _queue(pipe: Any, labels: list[str]) -> Any:
    for label in labels:
        bkeys = BufferKeys(label)
        pipe.zcard(bkeys.pending)
        pipe.zrange(bkeys.pending, 0, 0, withscores=True)
        pipe.hlen(bkeys.claimed)
        pipe.llen(bkeys.dead)
        pipe.hmget(bkeys.stats, ["rows", "writes"])
        pipe.zrange(bkeys.since, 0, 0, withscores=True)
    return pipe


def _read(labels: list[str]) -> list[Any]:
    """Six answers per model, each model's read in one MULTI/EXEC: a batch claimed
    between two of these reads would otherwise be counted twice or not at all."""
    buffer = get_buffer_redis()
    if not routed.is_cluster(buffer):
        return _queue(buffer.pipeline(transaction=True), labels).execute()
    # A model's keys share one slot; a transaction cannot span slots.
    # NOTE: one round trip per model on a Redis Cluster.
    answers: list[Any] = []
    for label in labels:
        answers += _queue(buffer.pipeline(transaction=True), [label]).execute()
    return answers


def backlog() -> list[dict[str, Any]]:
    """One dict per model with pending writes or dead letters.

    Keys: model, pending (rows waiting, including rows of batches in flight),
    oldest_age (seconds since the oldest write not yet in the database was made,
    whether its row waits, is in flight, retried or stranded; or None), dead_letters,
    in_flight, rows and writes (flushed so far; writes / rows is the coalescing ratio).
    """
    labels = _labels()
    answers = _read(labels)
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
