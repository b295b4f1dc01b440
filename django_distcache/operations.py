"""What the dashboard's buttons do: invalidate a namespace, run warmers, flush write-behind."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError

from django_distcache import keys
from django_distcache.invalidation import apply_invalidation, invalidate_model, invalidate_tag
from django_distcache.redis.client import ping
from django_distcache.redis.entries import count_existing
from django_distcache.redis.errors import RedisError
from django_distcache.registry import registered_models, tracked_models
from django_distcache.signals import invalidated
from django_distcache.stats import recorder
from django_distcache.stats.namespaces import GENERATIONS, OTHER, STATISTICS

TAG_PREFIX = "tag:"
# Entries of get_or_set() share no generation: they go by their tags or models.
NOT_INVALIDATABLE = {"get_or_set", GENERATIONS, OTHER, STATISTICS}


class OperationFailed(Exception):
    """An operation could not be carried out; the message says why."""


def model_namespaces() -> dict[str, Any]:
    """``app_label.model`` -> model of every registered or tracked model."""
    models_ = {*registered_models(), *tracked_models()}
    return {model._meta.label_lower: model for model in models_}


def namespace_choices(seen: Iterable[str] | None = None) -> list[str]:
    """The namespaces that can be invalidated: models, and functions and tags seen
    in the statistics (read from Redis when ``seen`` is not given)."""
    if seen is None:
        try:
            seen = list(recorder.read_flushed()["counts"])
        except RedisError:
            seen = []
    names = set(model_namespaces())
    names.update(ns for ns in seen if ns not in NOT_INVALIDATABLE)
    return sorted(names)


def require_redis() -> None:
    """Raise OperationFailed, saying why, when the cache's Redis does not answer."""
    try:
        ping()
    except RedisError as exc:
        raise OperationFailed(f"Redis is unavailable: {exc}") from exc


def tag_in_use(tag: str) -> bool:
    """Whether any entry was ever read or stored under ``tag`` (its generation exists)."""
    # NOTE: the read script creates a generation key the first time an entry reads it,
    # so a tag without one has nothing cached under it: one EXISTS, no scan.
    return bool(count_existing([keys.tag_generation(tag)]))


@contextmanager
def _applied(what: str, generation: str) -> Iterator[None]:
    """Raise OperationFailed unless the inside bumped ``generation`` in Redis."""
    sent: list[bool] = []

    def receiver(sender: Any, generations: Iterable[str] = (), **kwargs: Any) -> None:
        if generation in generations:
            sent.append(True)

    invalidated.connect(receiver, weak=False, dispatch_uid=f"operations.{id(sent)}")
    try:
        yield
    finally:
        invalidated.disconnect(dispatch_uid=f"operations.{id(sent)}")
    if not sent:
        raise OperationFailed(f"Redis did not take the invalidation of {what}; see the log.")


def _invalidate(what: str, generation: str, apply: Callable[[], None]) -> None:
    with _applied(what, generation):
        _redis_call(apply)


def invalidate_namespace(namespace: str) -> str:
    """Invalidate every entry of a model, tag (``tag:name``) or cached function now.

    Raises OperationFailed when Redis is down, for a tag nothing was cached under and
    for a namespace that cannot be invalidated as a whole.
    """
    require_redis()
    model = model_namespaces().get(namespace)
    if model is not None:
        _invalidate(namespace, keys.model_generation(model), lambda: invalidate_model(model))
        return f"every cached entry of {namespace} and of what depends on it"
    if namespace.startswith(TAG_PREFIX) and namespace[len(TAG_PREFIX) :]:
        tag = namespace[len(TAG_PREFIX) :]
        if not _redis_call(lambda: tag_in_use(tag)):
            raise OperationFailed(
                f"Nothing was ever cached with tag {tag!r}; check its spelling "
                "(tags are case-sensitive)."
            )
        _invalidate(namespace, keys.tag_generation(tag), lambda: invalidate_tag(tag))
        return f"every entry tagged {tag!r}"
    if namespace in NOT_INVALIDATABLE:
        raise OperationFailed(f"{namespace} cannot be invalidated as a whole.")
    generation = keys.function_generation(namespace)
    _invalidate(namespace, generation, lambda: apply_invalidation([generation], []))
    return f"every cached result of {namespace}"


def _redis_call(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except RedisError as exc:
        raise OperationFailed(f"Redis is unavailable: {exc}") from exc


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"django_distcache.{name}")
    except ImportError as exc:
        raise OperationFailed(f"django_distcache.{name} is not available: {exc}") from exc


def run_warmers(name: str | None) -> list[dict[str, Any]]:
    """Run one warmer (or all of them, for None) now; their run reports."""
    warming = _module("warming")
    if name is not None and name not in warming.warmer_names():
        raise OperationFailed(f"There is no warmer named {name!r}.")
    try:
        return list(warming.warm(names=[name] if name else None))
    except RedisError as exc:
        raise OperationFailed(f"Warming failed, Redis is unavailable: {exc}") from exc


def settle_dead_letters(model: str, action: str) -> int:
    """Replay or discard every dead letter of ``model``; how many."""
    writebehind = _module("writebehind")
    settle = {"replay": "replay_dead_letters", "discard": "discard_dead_letters"}[action]
    try:
        return int(getattr(writebehind, settle)(model))
    except (LookupError, writebehind.NotWriteBehind) as exc:
        raise OperationFailed(str(exc)) from exc
    except RedisError as exc:
        raise OperationFailed(f"Redis is unavailable: {exc}") from exc


def flush_write_behind(model: str | None) -> dict[str, Any]:
    """Write the pending write-behind changes (of one model, or all) now."""
    writebehind = _module("writebehind")
    from django_distcache.registry import NotRegistered

    try:
        return dict(writebehind.flush_write_behind(model))
    except RedisError as exc:
        raise OperationFailed(f"Flushing failed, Redis is unavailable: {exc}") from exc
    except (LookupError, NotRegistered, writebehind.NotWriteBehind) as exc:
        raise OperationFailed(str(exc)) from exc
    except DatabaseError as exc:
        raise OperationFailed(f"Flushing failed, the database is unavailable: {exc}") from exc
