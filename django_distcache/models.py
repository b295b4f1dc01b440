"""The dashboard's place in the admin (with its permissions) and stored statistics snapshots."""

from django.db import models


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
