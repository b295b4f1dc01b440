"""The explicit invalidation calls: objects, models, tags, anything by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import router

from django_distcache import keys
from django_distcache.invalidation.plans import plan_for
from django_distcache.invalidation.transactions import schedule_invalidation
from django_distcache.registry import ModelRef, find_config, resolve_model


def invalidate_objects(model: ModelRef, pks: Iterable[Any], *, using: str | None = None) -> None:
    """Drop the cached objects ``pks`` of ``model`` (and of its family) and what depends on
    the model. Inside a transaction this happens when it commits; use it after raw SQL."""
    model_cls = resolve_model(model)
    using = using or router.db_for_write(model_cls)
    pks = list(pks)
    plan = plan_for(model_cls)
    entries: set[str] = set()
    if plan is not None:
        entries = plan.entries(pks)
    elif (config := find_config(model_cls)) is not None:
        entries = {config.object_base(pk) for pk in pks}
    schedule_invalidation(using, [keys.model_generation(model_cls)], entries)


def invalidate_model(model: ModelRef, *, using: str | None = None) -> None:
    """Drop every cached object of ``model``'s family and everything that depends on it."""
    model_cls = resolve_model(model)
    using = using or router.db_for_write(model_cls)
    schedule_invalidation(
        using, [keys.model_generation(model_cls), keys.objects_generation(model_cls)]
    )


def invalidate_tag(tag: str, *, using: str | None = None) -> None:
    """Drop every entry stored with ``tag`` (when the open transactions commit)."""
    schedule_invalidation(using, [keys.tag_generation(tag)])


def invalidate(target: ModelRef, *, using: str | None = None) -> None:
    """Invalidate a model (a class or ``"app_label.Model"``) or a tag (a string without a dot).

    Runs when the current transaction commits, right away outside one. A dotted string
    that names no model is an error; use ``invalidate_tag`` for tags with dots.
    """
    if isinstance(target, str) and "." not in target:
        invalidate_tag(target, using=using)
        return
    try:
        model_cls = resolve_model(target)
    except LookupError as exc:
        raise LookupError(f"{exc} For a tag with a dot in it, use invalidate_tag().") from exc
    invalidate_model(model_cls, using=using)
