"""Dead letters: rows the flush gave up on, to list, replay or discard."""

from __future__ import annotations

from typing import Any

from django.db import models

from django_distcache.reads import readthrough
from django_distcache.redis.client import get_buffer_redis
from django_distcache.registry import ModelRef, resolve_model
from django_distcache.writebehind.buffer import announce, buffer_keys, write_behind_config
from django_distcache.writebehind.scripts import wb_script


def dead_letters(model: ModelRef, limit: int = 100) -> list[dict[str, Any]]:
    """The first ``limit`` dead letters of ``model``, oldest first: model, pk, values,
    increments, writes, attempts, error, failed_at."""
    target = _model(model)
    codec = readthrough.serializer()
    raw: Any = get_buffer_redis().lrange(buffer_keys(target).dead, 0, limit - 1)
    return [codec.loads(item) for item in raw]


def replay_dead_letters(model: ModelRef, count: int | None = None) -> int:
    """Buffer again the writes of the first ``count`` dead letters (all by default),
    as older than the rows' pending writes; returns how many were replayed. Each
    letter is replayed once, even by two callers at the same time."""
    target = _model(model)
    bkeys = buffer_keys(target)
    buffer = get_buffer_redis()
    codec = readthrough.serializer()
    raw: Any = buffer.lrange(bkeys.dead, 0, -1 if count is None else count - 1)
    replayed = 0
    for item in raw:
        letter = codec.loads(item)
        ops: list[Any] = []
        for name, value in letter["values"].items():
            ops += ["v", name, codec.dumps(value)]
        for name, amount in letter["increments"].items():
            ops += ["i", name, amount]
        pk = letter["pk"]
        announce(buffer, bkeys.label)
        replayed += wb_script("replay")(
            keys=[bkeys.dead, bkeys.pending, bkeys.since, bkeys.record(pk), bkeys.flag(pk)],
            args=[item, pk, *ops],
            client=buffer,
        )
    return replayed


def discard_dead_letters(model: ModelRef, count: int | None = None) -> int:
    """Delete the first ``count`` dead letters (all by default); returns how many."""
    bkeys = buffer_keys(_model(model))
    pipe = get_buffer_redis().pipeline(transaction=True)
    pipe.llen(bkeys.dead)
    if count is None:
        pipe.delete(bkeys.dead)
    else:
        pipe.ltrim(bkeys.dead, count, -1)
    pipe.llen(bkeys.dead)
    before, _, after = pipe.execute()
    return int(before) - int(after)


def _model(model: ModelRef) -> type[models.Model]:
    target = resolve_model(model)
    write_behind_config(target)
    return target
