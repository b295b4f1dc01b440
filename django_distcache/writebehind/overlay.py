"""Read-your-writes: lay buffered writes over rows loaded from the database."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, router
from redis.exceptions import RedisError

from django_distcache.client import get_buffer_redis, script
from django_distcache.writebehind.buffer import apply_record, buffer_keys, parse_record
from django_distcache.writebehind.own import own_record
from django_distcache.writebehind.transactions import commit_status

logger = logging.getLogger("django_distcache")


def overlay(
    model: type[models.Model],
    instances: dict[Any, models.Model | None],
    using: str | None = None,
    *,
    marks: bool = True,
) -> None:
    """Apply the buffered writes of each row to its instance (key pk -> instance), in place.

    One round trip. A row held by a batch gets that batch's writes first, then those a
    direct write in progress set aside, then the newer pending ones. A batch whose
    transaction has committed (its flush may have died before acknowledging it) is
    already in the database: the row is read again and the batch skipped. NOTE: that
    costs one query more, only for rows in such a batch. ``marks=False`` leaves out
    the writes set aside by direct writes (for the transaction that made one).
    """
    present = {str(pk): obj for pk, obj in instances.items() if obj is not None}
    if not present:
        return
    bkeys = buffer_keys(model)
    try:
        answer = script("wb_peek")(
            keys=[bkeys.claimed],
            args=[bkeys.root, *present],
            client=get_buffer_redis(),
        )
    except RedisError:
        # NOTE: the read goes on with the database's values: while the buffer's Redis
        # is unreachable, its writes cannot be seen (nor made: write_behind raises).
        logger.warning("django_distcache: write-behind buffer unreachable (%s)", bkeys.label)
        return
    using = using or router.db_for_read(model)
    statuses: dict[bytes, str] = {}
    for index, (key_pk, instance) in enumerate(present.items()):
        held, txid, marked, pending = answer[4 * index : 4 * index + 4]
        if held and txid:
            if txid not in statuses:
                statuses[txid] = commit_status(using, txid.decode())
            if statuses[txid] == "committed":
                _reload(model, instance, using)
                held = None
        if held:
            apply_record(instance, parse_record(held))
        for record in marked if marks else ():
            apply_record(instance, parse_record(record))
        if pending:
            apply_record(instance, parse_record(pending))
        own = own_record(model, key_pk)
        if own is not None:
            apply_record(instance, own)


def _reload(model: type[models.Model], instance: models.Model, using: str) -> None:
    """Read the row again: it was read before a batch's commit that is now certain."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    fresh = model._base_manager.using(using).filter(pk=instance.pk).values(*attnames).first()
    if fresh is not None:
        instance.__dict__.update(fresh)
