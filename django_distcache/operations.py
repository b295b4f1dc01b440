"""What the dashboard's buttons do: invalidate a namespace, run warmers, flush write-behind."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError

from django_distcache import keys
from django_distcache.client import get_redis
from django_distcache.invalidation import apply_invalidation, invalidate_model, invalidate_tag
from django_distcache.registry import registered_models, tracked_models
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


def _require_redis() -> None:
    try:
        get_redis().ping()
    except RedisError as exc:
        raise OperationFailed(f"Redis is unavailable: {exc}") from exc


def invalidate_namespace(namespace: str) -> str:
    """Invalidate every entry of a model, tag (``tag:name``) or cached function now."""
    _require_redis()
    model = model_namespaces().get(namespace)
    if model is not None:
        invalidate_model(model)
        return f"every cached entry of {namespace} and of what depends on it"
    if namespace.startswith(TAG_PREFIX) and namespace[len(TAG_PREFIX) :]:
        invalidate_tag(namespace[len(TAG_PREFIX) :])
        return f"every entry tagged {namespace[len(TAG_PREFIX) :]!r}"
    if namespace in NOT_INVALIDATABLE:
        raise OperationFailed(f"{namespace} cannot be invalidated as a whole.")
    apply_invalidation([keys.function_generation(namespace)], [])
    return f"every cached result of {namespace}"


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
    try:
        return dict(writebehind.flush_write_behind(model))
    except RedisError as exc:
        raise OperationFailed(f"Flushing failed, Redis is unavailable: {exc}") from exc
