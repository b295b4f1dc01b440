"""What a flush decided about a batch, and settling a batch whose flush failed."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, connections, models

from django_distcache.conf import get_settings
from django_distcache.invalidation import invalidate_objects
from django_distcache.redis import buffer
from django_distcache.redis.client import buffer_shares_cache
from django_distcache.redis.errors import RedisError
from django_distcache.registry import get_config
from django_distcache.writebehind import sql
from django_distcache.writebehind.buffer import now_ms
from django_distcache.writebehind.outcome import acknowledge
from django_distcache.writebehind.transactions import commit_status

logger = logging.getLogger("django_distcache")

# Errors of the database itself: the whole batch waits and is tried again.
DATABASE_DOWN = (OperationalError, InterfaceError)


@dataclass
class BatchOutcome:
    """What a flush decided about a batch, filled in as it is applied: its transaction
    id, then each row done, to retry (pk, due ms, attempts added, error) or dead."""

    txid: str = ""
    done: list[str] = field(default_factory=list)
    retry: list[tuple[str, int, int, str]] = field(default_factory=list)
    dead: list[tuple[str, bytes]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def acknowledge(self, model: type[models.Model], batch_id: str) -> list[str] | None:
        """Finish the batch in Redis with these decisions (once)."""
        return acknowledge(
            model,
            batch_id,
            done=self.done,
            retry=self.retry,
            dead=self.dead,
            writes=self.counts["writes"],
        )


def cached_rows(model: type[models.Model], using: str, pks: list[str]) -> list[str]:
    """The rows of ``pks`` whose entries are cached now, before their batch is written by
    the ORM (on databases other than PostgreSQL), whose invalidation drops them at its
    commit. NOTE: one round trip per batch, there only."""
    if not buffer_shares_cache() or not sql.orm_writes(using):
        return []
    config = get_config(model)
    try:
        found = buffer.entries_exist([config.object_base(pk) for pk in pks])
    except RedisError:
        return []
    return [pk for pk, exists in zip(pks, found, strict=True) if exists]


def refresh_entries(model: type[models.Model], using: str, pks: list[str] | None) -> None:
    """Store afresh the entries a flush dropped, so that reading a row whose deferred
    writes were just written stays a hit. NOTE: one query and three round trips per
    batch, only for rows that were cached."""
    if not pks:
        return
    from django_distcache.warming.objects import refresh_objects

    try:
        refresh_objects(model, [model._meta.pk.to_python(pk) for pk in pks], using=using)
    except (RedisError, *DATABASE_DOWN):
        # NOTE: the entries are gone; the next reads load the rows.
        logger.warning("django_distcache could not refresh %d entries of %s", len(pks), model)


def settle_failed_batch(
    model: type[models.Model],
    using: str,
    batch_id: str,
    pks: list[str],
    outcome: BatchOutcome,
    *,
    attempts: int,
    error: str = "",
) -> bool:
    """A flush failed while it applied the batch: settle the batch by what its
    transaction really did. True if it committed (and is now acknowledged).

    The COMMIT may have reached the database with only its answer lost, so a batch
    whose transaction began is never put back on a guess: its status is asked on a
    fresh connection, and if that cannot tell, the batch is left to recovery.
    """
    status = "aborted"  # no transaction id yet: nothing was written
    if outcome.txid:
        connections[using].close()
        try:
            status = commit_status(using, outcome.txid)
        except DATABASE_DOWN:
            status = "unknown"
        finally:
            connections[using].close()
    if status == "committed":
        logger.warning(
            "django_distcache: batch %s of %s committed, but its flush failed after that",
            batch_id,
            model._meta.label,
        )
        pk_field = model._meta.pk
        invalidate_objects(model, [pk_field.to_python(pk) for pk in outcome.done], using=using)
        outcome.acknowledge(model, batch_id)
        return True
    if status == "aborted":
        delay = int(get_settings().WRITE_BEHIND_RETRY_BACKOFF * 1000) if attempts else 0
        retry = [(pk, now_ms() + delay, attempts, error) for pk in pks]
        acknowledge(model, batch_id, retry=retry)
    # "in progress" or unknown: recovery asks again once the batch's lease runs out.
    return False
