"""Signal receivers and transaction-aware invalidation: applied when the write commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from django_distcache import keys
from django_distcache import outbox as outbox_module
from django_distcache.outbox.record import Row as OutboxRow
from django_distcache.registry import ModelRef, find_config, resolve_model

logger = logging.getLogger("django_distcache")


class PendingInvalidation:
    """What one transaction must invalidate; runs as its on_commit callback.

    Generations are bumped and entries deleted (with their leases) in one round trip.
    ``outbox`` is the row recorded in the same transaction, acknowledged when applied.
    """

    def __init__(self) -> None:
        self.generations: set[str] = set()
        self.entries: set[str] = set()
        self.outbox: OutboxRow | None = None

    def touches(self, generation_keys: Iterable[str], key: str | None = None) -> bool:
        if any(g in self.generations for g in generation_keys):
            return True
        return key is not None and key in self.entries

    def __call__(self) -> None:
        apply_invalidation(self.generations, self.entries, outbox=self.outbox)


def apply_invalidation(
    generations: Iterable[str],
    entries: Iterable[str],
    *,
    outbox: OutboxRow | None = None,
) -> None:
    """Delete ``entries`` with their leases and bump ``generations``, now.

    Deleting the lease is what stops a loader that read before the write from
    storing what it read. What Redis cannot take now waits in the outbox.
    """
    generations = sorted(generations)
    entries = sorted(entries)
    if not outbox_module.apply(generations, entries, outbox):
        return
    if not generations and not entries:
        return
    from django_distcache.signals import invalidated

    invalidated.send(sender=PendingInvalidation, generations=generations, entries=entries)


def _pending_for(using: str) -> PendingInvalidation:
    """The pending invalidation of the current transaction on ``using`` (created once)."""
    connection = transaction.get_connection(using)
    pending = getattr(connection, "_distcache_pending", None)
    if (
        pending is not None
        and connection.in_atomic_block
        and any(entry[1] is pending for entry in connection.run_on_commit)
    ):
        return pending
    pending = PendingInvalidation()
    if connection.in_atomic_block:
        connection._distcache_pending = pending  # type: ignore[attr-defined]
        transaction.on_commit(pending, using=using)
        pending.outbox = outbox_module.record(using)
    return pending


def schedule_invalidation(
    using: str, generations: Iterable[str] = (), entries: Iterable[str] = ()
) -> None:
    """Invalidate when the transaction on ``using`` commits, or now outside one."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        apply_invalidation(generations, entries)
        return
    pending = _pending_for(using)
    pending.generations.update(generations)
    pending.entries.update(entries)


def pending_touches(using: str, generation_keys: Iterable[str], key: str | None = None) -> bool:
    """Whether the open transaction on ``using`` has uncommitted writes to this entry.

    Such reads bypass the cache: they may see the transaction's own writes, which
    must never be cached, and the cached value may be older than them.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        return False
    generation_keys = tuple(generation_keys)
    for entry in connection.run_on_commit:
        callback = entry[1]
        if isinstance(callback, PendingInvalidation) and callback.touches(generation_keys, key):
            return True
    return False


def _object_entries(model: type[models.Model], pks: Iterable[Any]) -> set[str]:
    config = find_config(model)
    if config is None:
        return set()
    return {config.object_base(pk) for pk in pks}


def invalidate_objects(model: ModelRef, pks: Iterable[Any], *, using: str | None = None) -> None:
    """Drop the cached objects ``pks`` of ``model`` and what depends on the model.

    Inside a transaction this happens when it commits; use it after raw SQL.
    """
    model_cls = resolve_model(model)
    using = using or router.db_for_write(model_cls)
    pk_field = model_cls._meta.pk
    pks = [pk_field.to_python(pk) for pk in pks]
    schedule_invalidation(
        using, [keys.model_generation(model_cls)], _object_entries(model_cls, pks)
    )


def invalidate_model(model: ModelRef, *, using: str | None = None) -> None:
    """Drop every cached object of ``model`` and everything that depends on it."""
    model_cls = resolve_model(model)
    using = using or router.db_for_write(model_cls)
    schedule_invalidation(
        using, [keys.model_generation(model_cls), keys.objects_generation(model_cls)]
    )


def invalidate_tag(tag: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop every entry stored with ``tag``."""
    schedule_invalidation(using, [keys.tag_generation(tag)])


def invalidate(target: ModelRef, *, using: str | None = None) -> None:
    """Invalidate a model (a class or ``"app_label.Model"``) or a tag (a string without a dot).

    Runs when the current transaction commits, right away outside one. A dotted string
    that names no model is an error; use ``invalidate_tag`` for tags with dots.
    """
    if isinstance(target, str) and "." not in target:
        invalidate_tag(target, using=using or DEFAULT_DB_ALIAS)
        return
    try:
        model_cls = resolve_model(target)
    except LookupError as exc:
        raise LookupError(f"{exc} For a tag with a dot in it, use invalidate_tag().") from exc
    invalidate_model(model_cls, using=using)


def _on_save(sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any) -> None:
    schedule_invalidation(
        using, [keys.model_generation(sender)], _object_entries(sender, [instance.pk])
    )


def _on_delete(
    sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
) -> None:
    _on_save(sender, instance, using)


def _on_m2m_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    model: type[models.Model],
    using: str,
    **kwargs: Any,
) -> None:
    if not action.startswith("post_"):
        return
    generations = {keys.model_generation(type(instance)), keys.model_generation(model)}
    generations.add(keys.model_generation(sender))
    schedule_invalidation(using, generations)


def connect_receivers(model: type[models.Model]) -> None:
    """Connect the receivers that invalidate ``model``'s entries on every write."""
    label = model._meta.label_lower
    post_save.connect(_on_save, sender=model, dispatch_uid=f"distcache.save.{label}")
    post_delete.connect(_on_delete, sender=model, dispatch_uid=f"distcache.delete.{label}")
    # The through models of this model's many-to-many fields, and of those pointing at it.
    throughs: set[Any] = {f.remote_field.through for f in model._meta.local_many_to_many}
    throughs.update(
        getattr(rel, "through", None) for rel in model._meta.related_objects if rel.many_to_many
    )
    for through in throughs:
        if through is None or isinstance(through, str):
            continue
        m2m_changed.connect(
            _on_m2m_changed,
            sender=through,
            dispatch_uid=f"distcache.m2m.{through._meta.label_lower}",
        )
