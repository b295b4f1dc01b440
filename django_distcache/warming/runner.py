"""Run warmers: batched reads, pipelined writes, each run's result kept in Redis."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from django.db import models
from django.db.models.query import QuerySet

from django_distcache import keys
from django_distcache.conf import get_settings
from django_distcache.redis import history
from django_distcache.registry import resolve_model
from django_distcache.warming.objects import refresh_objects
from django_distcache.warming.registry import get_warmer, warmer_names

# (warmers done, warmers in all, the running warmer, entries it stored so far)
Progress = Callable[[int, int, str, int], None]
# (index, parts): a share of a warm run's chunks, for one of several workers.
Part = tuple[int, int]


def runs_key() -> str:
    return f"{keys.prefix()}:warm:runs"


def _object_keys(items: Any, chunk: int) -> Iterator[tuple[type[models.Model], list[Any]]]:
    """(model, pks) chunks from a queryset or an iterable of instances, pairs or keys."""
    if isinstance(items, QuerySet):
        all_pks = items.values_list("pk", flat=True).iterator(chunk_size=chunk)
        for batch in _batched(all_pks, chunk):
            yield items.model, list(batch)
        return
    pending: dict[type[models.Model], list[Any]] = {}
    for item in items:
        model, pk = _model_and_pk(item)
        bucket = pending.setdefault(model, [])
        bucket.append(pk)
        if len(bucket) >= chunk:
            yield model, pending.pop(model)
    for model, bucket in pending.items():
        yield model, bucket


def _batched(iterable: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    iterator = iter(iterable)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch


def _model_and_pk(item: Any) -> tuple[type[models.Model], Any]:
    if isinstance(item, models.Model):
        return type(item), item.pk
    if isinstance(item, str) and ":" in item:
        label, pk = item.rsplit(":", 1)
        return resolve_model(label), pk
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return resolve_model(item[0]), item[1]
    raise TypeError(
        f"a warmer gave {item!r}; give model instances, (Model, pk) pairs or "
        "'app_label.model:pk' keys, or return a queryset."
    )


def run_warmer(
    name: str, on_chunk: Callable[[int], None] | None = None, part: Part = (0, 1)
) -> dict[str, Any]:
    """Run one warmer; its result: name, started_at, duration, entries, errors.
    ``on_chunk`` is told the entries stored so far after each chunk. ``part`` (index,
    parts): refresh only every parts-th chunk from the index-th, so that ``parts``
    workers running one part each warm every chunk once."""
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat()
    entries, errors = 0, []
    chunk = get_settings().WARM_BATCH_SIZE
    index, parts = part
    try:
        for number, (model, pks) in enumerate(_object_keys(get_warmer(name)(), chunk)):
            if number % parts != index:
                continue
            try:
                entries += refresh_objects(model, pks)
            except Exception as exc:  # one chunk's failure is reported
                errors.append(f"{model._meta.label_lower}: {type(exc).__name__}: {exc}")
            if on_chunk:
                on_chunk(entries)
    except Exception as exc:  # a failing warmer is reported, not fatal
        errors.append(f"{type(exc).__name__}: {exc}")
    result = {
        "name": name,
        "started_at": started_at,
        "duration": round(time.perf_counter() - started, 6),
        "entries": entries,
        "errors": errors[:20],
    }
    if parts > 1:
        result["part"] = f"{index + 1}/{parts}"
    return result


def parts_of(parts: int) -> list[Part]:
    """The ``parts`` parts of a warm run split across workers (``warm(part=...)``)."""
    if parts < 1:
        raise ValueError(f"a warm run splits into at least 1 part, not {parts}")
    return [(index, parts) for index in range(parts)]


def warm(
    names: list[str] | None = None,
    *,
    progress: Progress | None = None,
    part: Part = (0, 1),
) -> list[dict[str, Any]]:
    """Run the named warmers (all when None) in order; record and return their results.
    ``progress`` is called as each warmer starts and after each of its chunks; ``part``:
    this run's share of every warmer's chunks (see ``run_warmer``)."""
    if not 0 <= part[0] < part[1]:
        raise ValueError(f"no part {part[0] + 1} of {part[1]}")
    names = list(names) if names is not None else warmer_names()
    for name in names:
        get_warmer(name)  # an unknown name fails before any work
    results = []
    entries = 0
    for index, name in enumerate(names):

        def on_chunk(stored: int, index: int = index, name: str = name) -> None:
            if progress:
                progress(index, len(names), name, stored)

        on_chunk(0)
        result = run_warmer(name, on_chunk, part)
        _record(result)
        results.append(result)
        entries = result["entries"]
    if progress:
        progress(len(names), len(names), "", entries)
    return results


def _record(result: dict[str, Any]) -> None:
    history.push(runs_key(), json.dumps(result), get_settings().WARM_HISTORY)


def recent_runs(limit: int = 10) -> list[dict[str, Any]]:
    """The latest warm runs, newest first."""
    return [json.loads(raw) for raw in history.newest(runs_key(), limit)]
