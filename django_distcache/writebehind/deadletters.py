"""Dead letters: rows the flush gave up on, to list, replay or discard."""

from __future__ import annotations

from typing import Any

from django.db import models

from django_distcache.reads import readthrough
from django_distcache.redis import buffer
from django_distcache.registry import ModelRef, resolve_model
from django_distcache.writebehind.buffer import announce, buffer_keys, write_behind_config


def dead_letters(model: ModelRef, limit: int = 100) -> list[dict[str, Any]]:
    """The first ``limit`` dead letters of ``model``, oldest first: model, pk, values,
    increments, writes, attempts, error, failed_at."""
    target = _model(model)
    codec = readthrough.serializer()
    return [codec.loads(item) for item in buffer.list_items(buffer_keys(target).dead, limit)]


def replay_dead_letters(model: ModelRef, count: int | None = None) -> int:
    """Buffer again the writes of the first ``count`` dead letters (all by default),
    as older than the rows' pending writes; returns how many were replayed. Each
    letter is replayed once, even by two callers at the same time."""
    target = _model(model)
    bkeys = buffer_keys(target)
    codec = readthrough.serializer()
    replayed = 0
    for item in buffer.list_items(bkeys.dead, count):
        letter = codec.loads(item)
        ops: list[Any] = []
        for name, value in letter["values"].items():
            ops += ["v", name, codec.dumps(value)]
        for name, amount in letter["increments"].items():
            ops += ["i", name, amount]
        pk = letter["pk"]
        announce(bkeys.label)
        replayed += buffer.run_script(
            "replay",
            [bkeys.dead, bkeys.pending, bkeys.since, bkeys.record(pk), bkeys.flag(pk)],
            [item, pk, *ops],
        )
    return replayed


def discard_dead_letters(model: ModelRef, count: int | None = None) -> int:
    """Delete the first ``count`` dead letters (all by default); returns how many."""
    return buffer.drop_first_items(buffer_keys(_model(model)).dead, count)


def _model(model: ModelRef) -> type[models.Model]:
    target = resolve_model(model)
    write_behind_config(target)
    return target
