"""Read-your-writes: lay buffered writes over rows loaded from the database."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models
from redis.exceptions import RedisError

from django_distcache.client import get_buffer_redis, script
from django_distcache.writebehind.buffer import apply_record, buffer_keys, parse_record

logger = logging.getLogger("django_distcache")


def overlay(model: type[models.Model], instances: dict[Any, models.Model | None]) -> None:
    """Apply the buffered writes of each row to its instance (key pk -> instance), in place.

    One round trip. A row with a batch in flight gets that batch's writes first, then
    the newer pending ones.
    NOTE: while a batch commits, a concurrent load may count its writes twice or not
    at all; the flush's acknowledgement drops any entry stored meanwhile.
    """
    present = {str(pk): obj for pk, obj in instances.items() if obj is not None}
    if not present:
        return
    bkeys = buffer_keys(model)
    try:
        answer = script("wb_peek")(
            keys=[bkeys.claimed],
            args=[bkeys.record_prefix, bkeys.held_root, *present],
            client=get_buffer_redis(),
        )
    except RedisError:
        # NOTE: the read goes on with the database's values: while the buffer's Redis
        # is unreachable, its writes cannot be seen (nor made: write_behind raises).
        logger.warning(
            "django_distcache: write-behind buffer unreachable; reading %s rows", bkeys.label
        )
        return
    for index, instance in enumerate(present.values()):
        held, pending = answer[2 * index], answer[2 * index + 1]
        if held:
            apply_record(instance, parse_record(held))
        if pending:
            apply_record(instance, parse_record(pending))
