"""Recover the batches of flushes that died, by asking the database what they committed."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from django_distcache.invalidation import invalidate_objects
from django_distcache.redis import buffer
from django_distcache.writebehind.buffer import buffer_keys, lease_expiry, now_ms
from django_distcache.writebehind.outcome import acknowledge
from django_distcache.writebehind.transactions import commit_status

logger = logging.getLogger("django_distcache")

_DIED = "its flush died (worker lost) before it committed"


def recover_stale_batches(model: type[models.Model], using: str) -> int:
    """Finish the batches whose flush died: acknowledge them if their transaction
    committed, else put their rows back. Returns how many were recovered."""
    recovered = 0
    for batch_id in buffer.due_members(buffer_keys(model).batches, now_ms()):
        stolen = steal_batch(model, batch_id)
        if stolen is not None and settle_batch(model, using, batch_id, stolen):
            recovered += 1
    return recovered


def steal_batch(model: type[models.Model], batch_id: str) -> dict[str, bytes] | None:
    """Take over ``batch_id`` if its lease ran out: its hash (txid, p:<pk>, decisions),
    or None. A batch whose flush had not begun its transaction can no longer begin it."""
    bkeys = buffer_keys(model)
    flat = buffer.run_script(
        "steal",
        [bkeys.batches, bkeys.batch(batch_id), bkeys.txids],
        [batch_id, now_ms(), lease_expiry()],
    )
    if flat is None:
        return None
    return _as_dict(flat)


def settle_batch(
    model: type[models.Model], using: str, batch_id: str, stolen: dict[str, bytes]
) -> bool:
    """Finish a stolen batch by what its transaction did; False while it still runs."""
    pks = [name[2:] for name in stolen if name.startswith("p:")]
    status = commit_status(using, stolen.get("txid", b"").decode())
    if status == "in progress":
        return False
    if status == "committed":
        # The owner records its decisions before its COMMIT: read them now that the
        # commit is certain, not from the copy taken when the batch was stolen.
        info = buffer.hash_fields(buffer_keys(model).batch(batch_id))
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
        # Its flush died: each row's crashes count goes up; such rows are then
        # flushed alone, so a row that kills its worker is dead-lettered after
        # WRITE_BEHIND_MAX_ATTEMPTS deaths and takes no other row with it.
        acknowledge(model, batch_id, retry=[(pk, now_ms(), -1, _DIED) for pk in pks])
    logger.info("django_distcache recovered batch %s of %s (%s)", batch_id, model, status)
    return True


def _as_dict(flat: Any) -> dict[str, bytes]:
    if isinstance(flat, dict):
        return {k.decode(): v for k, v in flat.items()}
    return {k.decode(): v for k, v in zip(flat[::2], flat[1::2], strict=True)}
