"""write_behind(), write_behind_incr() and write_through(): the write side of the buffer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import models, router, transaction

from django_distcache.conf import DistcacheSettings, get_settings
from django_distcache.reads import objects as _objects
from django_distcache.reads import readthrough
from django_distcache.redis.breaker import RedisUnavailable
from django_distcache.redis.buffer import PackedCall, packed_script, write_to_buffer
from django_distcache.registry import get_config
from django_distcache.writebehind.buffer import (
    BufferKeys,
    buffer_keys,
    models_key,
    write_behind_config,
)
from django_distcache.writebehind.own import defer_to_commit
from django_distcache.writebehind.values import (
    checked_pk,
    checked_value,
    numeric_field,
    writable_field,
)

# A model whose buffer reached the batch size triggers at most one flush per this long.
TRIGGER_MS = 1000


class WriteBehindFull(RuntimeError):
    """Raised when a model's buffer is at WRITE_BEHIND_MAX_PENDING and OVERFLOW is 'raise'."""


class WriteBehindUnavailable(WriteBehindFull):
    """Raised while the buffer's Redis is unavailable (its breaker is open) and OVERFLOW
    is 'raise'."""


@dataclass(frozen=True)
class _WritePlan:
    """What every write to one model needs, derived once per settings object."""

    label: str
    models_key: str
    keys: BufferKeys
    call: PackedCall
    wait_replicas: int


@lru_cache(maxsize=256)
def _plan(model: type[models.Model], conf: DistcacheSettings) -> _WritePlan:
    write_behind_config(model)
    bkeys = buffer_keys(model)
    limits = f"{int(conf.WRITE_BEHIND_MAX_PENDING)},{int(conf.WRITE_BEHIND_BATCH_SIZE)},"
    return _WritePlan(
        label=bkeys.label,
        models_key=models_key(),
        keys=bkeys,
        call=packed_script(
            "write",
            [bkeys.pending, bkeys.since, bkeys.trigger],
            2,
            [limits + str(TRIGGER_MS)],
        ),
        wait_replicas=conf.WRITE_BEHIND_WAIT_REPLICAS,
    )


def _buffer(model: type[models.Model], pk: Any, ops: list[tuple[str, str, Any]]) -> bool | None:
    """Record ``ops`` for one row in one round trip; False if the buffer is full, None
    if its Redis is unavailable (nothing sent)."""
    conf = get_settings()
    plan = _plan(model, conf)
    key_pk = _objects._normalize_pk(model, pk)
    row_keys = [plan.keys.record(key_pk), plan.keys.flag(key_pk)]
    args: list[Any] = [str(key_pk)]
    for op in ops:
        args.extend(op)
    # Errors (out of memory, READONLY, connection) reach the caller: a write that
    # was not buffered must never look as if it was. Only while the breaker is open
    # is it certain that nothing was sent: then the write overflows (write through
    # or raise, WRITE_BEHIND_OVERFLOW); a timeout may have reached Redis and raises.
    try:
        if plan.wait_replicas:
            (trigger, _count), acked = _write_and_wait(plan, row_keys, args, conf)
        else:
            trigger, _count = write_to_buffer(
                plan.call, plan.models_key, plan.label, row_keys, args
            )
    except RedisUnavailable:
        return None
    if trigger == -1:
        return False
    if plan.wait_replicas:
        _check_replicas(acked, conf)
    if trigger == 1:
        from django_distcache.writebehind.dispatch import enqueue_flush

        enqueue_flush(plan.label, using=router.db_for_write(model))
    return True


def _write_and_wait(plan: _WritePlan, row_keys: list[str], args: list[Any], conf: Any) -> Any:
    """The script call and WAIT in one round trip, over the same connection: WAIT counts
    the replicas that have the writes of its own connection."""
    wait = ("WAIT", conf.WRITE_BEHIND_WAIT_REPLICAS, int(conf.WRITE_BEHIND_WAIT_TIMEOUT * 1000))
    return write_to_buffer(plan.call, plan.models_key, plan.label, row_keys, args, wait)


def _check_replicas(acked: int, conf: Any) -> None:
    wanted = conf.WRITE_BEHIND_WAIT_REPLICAS
    if acked < wanted:
        raise WriteBehindNotReplicated(
            f"the buffered write reached {acked} of {wanted} replicas within "
            f"{conf.WRITE_BEHIND_WAIT_TIMEOUT}s (DISTCACHE['WRITE_BEHIND_WAIT_REPLICAS']); "
            "it is kept and will be flushed, but a failover now could lose it."
        )


class WriteBehindNotReplicated(RuntimeError):
    """Strict mode: a buffered write was not acknowledged by enough replicas in time."""


def _overflow(model: type[models.Model], save: Any, buffered: bool | None = False) -> None:
    conf = get_settings()
    if conf.WRITE_BEHIND_OVERFLOW == "raise" and buffered is None:
        raise WriteBehindUnavailable(
            f"the write-behind buffer's Redis is unavailable; the write to "
            f"{model._meta.label} was not made (DISTCACHE['WRITE_BEHIND_OVERFLOW'] is 'raise')."
        )
    if conf.WRITE_BEHIND_OVERFLOW == "raise":
        raise WriteBehindFull(
            f"{model._meta.label} has {conf.WRITE_BEHIND_MAX_PENDING} rows waiting to be "
            "flushed (DISTCACHE['WRITE_BEHIND_MAX_PENDING']); the write was not made."
        )
    save()


def write_behind(instance: models.Model, fields: Iterable[str]) -> None:
    """Set ``fields`` of ``instance``'s row later, in a batched flush.

    ``get_object`` sees the new values at once. The write is in Redis when this
    returns; its errors (out of memory, read-only replica) are raised here. Inside an
    atomic block it is buffered when the block's transaction commits (its errors are
    raised there) and vanishes if it rolls back; the transaction reads it meanwhile.
    """
    model = type(instance)
    pk = checked_pk(model, instance.pk if not instance._state.adding else None)
    codec = readthrough.serializer()
    ops = []
    for name in fields:
        field = writable_field(model, name)
        value = checked_value(model, field, getattr(instance, field.attname))
        ops.append(("v", field.attname, codec.dumps(value)))
    if not ops:
        raise ValueError("write_behind() needs at least one field name.")
    _write(model, pk, ops, lambda: instance.save(update_fields=[op[1] for op in ops]))


def write_behind_incr(model: type[models.Model], pk: Any, field: str, by: int = 1) -> None:
    """Add ``by`` to a number column later; increments between flushes add up, and an
    increment of a NULL column counts it as 0."""
    if not isinstance(by, int) or isinstance(by, bool):
        raise TypeError(f"write_behind_incr() adds whole numbers, got {by!r}.")
    pk = checked_pk(model, pk)
    attname = numeric_field(model, field).attname

    def save() -> None:
        from django.db.models import F, Value
        from django.db.models.functions import Coalesce

        from django_distcache.invalidation import invalidate_objects

        # The base manager: a DistcacheManager's update() would drop the whole model's
        # cache; only this row changed.
        model._base_manager.filter(pk=pk).update(**{attname: Coalesce(F(attname), Value(0)) + by})
        invalidate_objects(model, [pk], using=router.db_for_write(model))

    _write(model, pk, [("i", attname, by)], save)


def _write(model: type[models.Model], pk: Any, ops: list[Any], save: Any) -> None:
    """Buffer ``ops`` now, or when the open transaction commits (nothing if it rolls
    back); ``save`` writes them through when the buffer is full."""

    def buffer() -> None:
        buffered = _buffer(model, pk, ops)
        if not buffered:
            _overflow(model, save, buffered)

    using = router.db_for_write(model)
    if not transaction.get_connection(using).in_atomic_block:
        buffer()
        return
    key_pk = _objects._normalize_pk(model, pk)
    defer_to_commit(using, model, key_pk, get_config(model).object_base(key_pk), ops, buffer)


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
