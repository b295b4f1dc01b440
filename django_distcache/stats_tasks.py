"""Celery task storing statistics snapshots; schedule it with beat (every minute)."""

from celery import shared_task


@shared_task(name="django_distcache.record_stats_snapshot", ignore_result=True)
def record_stats_snapshot() -> int:
    """Store a snapshot of the cache statistics for the dashboard's charts; its id."""
    from django_distcache.stats.history import record_snapshot

    return record_snapshot()
