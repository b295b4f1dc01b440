"""write_behind(), write_behind_incr() and write_through(): the write side of the buffer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, router, transaction

from django_distcache import readthrough
from django_distcache.client import buffer_shares_cache, get_buffer_redis, script
from django_distcache.conf import get_settings
from django_distcache.writebehind.buffer import (
    buffer_keys,
    models_key,
    now_ms,
    write_behind_config,
)

# A model whose buffer reached the batch size triggers at most one flush per this long.
TRIGGER_MS = 1000


class WriteBehindFull(RuntimeError):
    """Raised when a model's buffer is at WRITE_BEHIND_MAX_PENDING and OVERFLOW is 'raise'."""


def _buffer(model: type[models.Model], pk: Any, ops: list[tuple[str, str, Any]]) -> bool:
    """Record ``ops`` for one row in one round trip; False if the buffer is full."""
    from django_distcache.objects import _normalize_pk

    conf = get_settings()
    config = write_behind_config(model)
    bkeys = buffer_keys(model)
    key_pk = _normalize_pk(model, pk)
    text_pk = str(key_pk)
    shared = buffer_shares_cache()
    keys_ = [bkeys.pending, bkeys.record_prefix + text_pk, models_key(), bkeys.trigger]
    base = ""
    if shared:
        keys_.extend(config.generation_keys)
        base = config.object_base(key_pk)
    args: list[Any] = [
        now_ms(),
        text_pk,
        bkeys.label,
        conf.WRITE_BEHIND_MAX_PENDING,
        conf.WRITE_BEHIND_BATCH_SIZE,
        TRIGGER_MS,
        base,
    ]
    for op in ops:
        args.extend(op)
    buffer = get_buffer_redis()
    # Errors (out of memory, READONLY, connection) reach the caller: a write that
    # was not buffered must never look as if it was.
    trigger, _count = script("wb_write")(keys=keys_, args=args, client=buffer)
    if trigger == -1:
        return False
    if conf.WRITE_BEHIND_WAIT_REPLICAS:
        _wait_for_replicas(buffer, conf)
    if not shared:
        from django_distcache.invalidation import apply_invalidation

        apply_invalidation((), {config.generation_keys: {config.object_base(key_pk)}})
    if trigger == 1:
        from django_distcache.writebehind.dispatch import enqueue_flush

        enqueue_flush(bkeys.label, using=router.db_for_write(model))
    return True


def _wait_for_replicas(buffer: Any, conf: Any) -> None:
    wanted = conf.WRITE_BEHIND_WAIT_REPLICAS
    acked = buffer.wait(wanted, int(conf.WRITE_BEHIND_WAIT_TIMEOUT * 1000))
    if acked < wanted:
        raise WriteBehindNotReplicated(
            f"the buffered write reached {acked} of {wanted} replicas within "
            f"{conf.WRITE_BEHIND_WAIT_TIMEOUT}s (DISTCACHE['WRITE_BEHIND_WAIT_REPLICAS']); "
            "it is kept and will be flushed, but a failover now could lose it."
        )


class WriteBehindNotReplicated(RuntimeError):
    """Strict mode: a buffered write was not acknowledged by enough replicas in time."""


def _overflow(model: type[models.Model], save: Any) -> None:
    conf = get_settings()
    if conf.WRITE_BEHIND_OVERFLOW == "raise":
        raise WriteBehindFull(
            f"{model._meta.label} has {conf.WRITE_BEHIND_MAX_PENDING} rows waiting to be "
            "flushed (DISTCACHE['WRITE_BEHIND_MAX_PENDING']); the write was not made."
        )
    save()


def write_behind(instance: models.Model, fields: Iterable[str]) -> None:
    """Set ``fields`` of ``instance``'s row later, in a batched flush.

    ``get_object`` sees the new values at once. The write is in Redis when this
    returns; its errors (out of memory, read-only replica) are raised here.
    """
    model = type(instance)
    codec = readthrough.serializer()
    ops = []
    for name in fields:
        field = model._meta.get_field(name)
        if not field.concrete or field.primary_key:
            raise ValueError(f"{model._meta.label}.{name} is not a writable column.")
        ops.append(("v", field.attname, codec.dumps(getattr(instance, field.attname))))
    if not ops:
        raise ValueError("write_behind() needs at least one field name.")
    if not _buffer(model, instance.pk, ops):
        _overflow(model, lambda: instance.save(update_fields=[op[1] for op in ops]))


def write_behind_incr(model: type[models.Model], pk: Any, field: str, by: int = 1) -> None:
    """Add ``by`` to an integer column later; increments between flushes add up."""
    if not isinstance(by, int) or isinstance(by, bool):
        raise TypeError(f"write_behind_incr() adds whole numbers, got {by!r}.")
    attname = model._meta.get_field(field).attname
    if not _buffer(model, pk, [("i", attname, by)]):

        def save() -> None:
            from django.db.models import F

            model._default_manager.filter(pk=pk).update(**{attname: F(attname) + by})

        _overflow(model, save)


def write_through(instance: models.Model, *, using: str | None = None) -> None:
    """Save ``instance`` now and store its fresh cache entry when the transaction commits."""
    model = type(instance)
    using = using or router.db_for_write(model)
    instance.save(using=using)
    pk = instance.pk

    def refresh() -> None:
        from django_distcache.warming.objects import refresh_objects

        refresh_objects(model, [pk], using=using)

    transaction.on_commit(refresh, using=using)
