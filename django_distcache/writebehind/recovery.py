"""Recover the batches of flushes that died, by asking the database what they committed."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from django_distcache.client import get_buffer_redis, script
from django_distcache.invalidation import invalidate_objects
from django_distcache.writebehind.buffer import buffer_keys, lease_expiry, now_ms
from django_distcache.writebehind.outcome import acknowledge
from django_distcache.writebehind.transactions import commit_status

logger = logging.getLogger("django_distcache")


def recover_stale_batches(model: type[models.Model], using: str) -> int:
    """Finish the batches whose flush died: acknowledge them if their transaction
    committed, else put their rows back. Returns how many were recovered."""
    bkeys = buffer_keys(model)
    buffer = get_buffer_redis()
    now = now_ms()
    recovered = 0
    stale: Any = buffer.zrangebyscore(bkeys.batches, "-inf", now)
    for raw_id in stale:
        batch_id = raw_id.decode()
        flat = script("wb_steal")(
            keys=[bkeys.batches, bkeys.batch(batch_id)],
            args=[batch_id, now, lease_expiry()],
            client=buffer,
        )
        if flat is None:
            continue
        info = {k.decode(): v for k, v in zip(flat[::2], flat[1::2], strict=True)}
        pks = [name[2:] for name in info if name.startswith("p:")]
        status = commit_status(using, info.get("txid", b"").decode())
        if status == "in progress":
            continue
        if status == "committed":
            dead = [(pk, info[f"d:{pk}"]) for pk in pks if f"d:{pk}" in info]
            retry = []
            for pk in pks:
                if f"r:{pk}" in info:
                    score, added, error = info[f"r:{pk}"].decode().split("|", 2)
                    retry.append((pk, int(score), int(added), error))
            decided = {pk for pk, _ in dead} | {item[0] for item in retry}
            done = [pk for pk in pks if pk not in decided]
            # The dead flush may not have invalidated after its commit.
            pk_field = model._meta.pk
            invalidate_objects(model, [pk_field.to_python(pk) for pk in done], using=using)
            acknowledge(model, batch_id, done=done, retry=retry, dead=dead)
        else:
            acknowledge(model, batch_id, retry=[(pk, now, 0, "") for pk in pks])
        logger.info("django_distcache recovered batch %s of %s (%s)", batch_id, model, status)
        recovered += 1
    return recovered
