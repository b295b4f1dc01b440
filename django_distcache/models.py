"""The dashboard's place in the admin, statistics snapshots and the invalidation outbox."""

from django.db import models
from django.utils import timezone


class Dashboard(models.Model):
    """No table: gives the admin dashboard its index entry and its view/change permissions."""

    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = "cache dashboard"
        verbose_name_plural = "cache dashboard"

    def __str__(self) -> str:
        return "cache dashboard"


class StatsSnapshot(models.Model):
    """Cache statistics at one moment, kept for the dashboard's charts (bounded retention)."""

    taken_at = models.DateTimeField(db_index=True)
    data = models.JSONField()

    class Meta:
        ordering = ["taken_at"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"statistics at {self.taken_at:%Y-%m-%d %H:%M:%S}"


class OutboxEntry(models.Model):
    """An invalidation recorded in the writer's own transaction, kept until Redis has it.

    Inserted empty (``payload`` null) by a transaction that touched cached data, so that
    it exists if and only if the write committed; acknowledged in Redis once applied and
    deleted by the replay. A writer that could not apply it fills in ``payload``; a row
    still null when replayed (its writer died first) empties the cache instead.
    """

    created = models.DateTimeField(default=timezone.now)
    # {"generations": [...], "entries": [...]}: the Redis keys to bump and to delete.
    payload = models.JSONField(null=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox entries"

    def __str__(self) -> str:
        return f"invalidation {self.pk} of {self.created:%Y-%m-%d %H:%M:%S}"


class OutboxFloor(models.Model):
    """One row per database: how many rounds deleted acknowledged outbox rows.

    Redis holds the same number; a Redis whose number is lower has lost invalidations
    that the database no longer holds (a restart from an older snapshot, a promoted
    replica) and is treated as empty.
    """

    rounds = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"outbox floor {self.rounds}"
