"""Celery tasks: thin wrappers over writebehind, warming, refresh and the outbox (JSON-safe args).

Both run with late acknowledgement and are requeued if their worker is lost: a
flush is idempotent (its batches are acknowledged once), so a redelivered or
duplicated task changes nothing.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from django_distcache import warming, writebehind
from django_distcache.writebehind.flush import DATABASE_DOWN

# Retry delay (seconds) while the database is down: 1, 2, 4, ... up to this.
LONGEST_RETRY_DELAY = 30


@shared_task(
    name="django_distcache.flush_write_behind",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def flush_write_behind(self: Any, model: str | None = None) -> dict[str, int]:
    """Flush the write-behind buffer of ``model`` ("app_label.model") or of every model."""
    try:
        return writebehind.flush_write_behind(model)
    except DATABASE_DOWN as exc:
        from django.db import connections

        connections.close_all()
        delay = min(LONGEST_RETRY_DELAY, 2**self.request.retries)
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(
    name="django_distcache.warm_cache",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def warm_cache(
    self: Any, names: list[str] | None = None, part: int = 0, parts: int = 1
) -> list[dict[str, Any]]:
    """Run the named warmers (all when ``names`` is None); progress is in the task state.

    ``part`` of ``parts``: this task's share of the chunks, when a run is split across
    workers (``distcache_warm --async --parts N``); each result names the worker.
    """

    def progress(done: int, total: int, name: str, entries: int) -> None:
        if self.request.id:
            meta = {"done": done, "total": total, "warmer": name, "entries": entries}
            self.update_state(state="PROGRESS", meta=meta)

    results = warming.warm(names, progress=progress, part=(part, parts))
    if parts > 1:
        for result in results:
            result["worker"] = self.request.hostname
    return results


@shared_task(name="django_distcache.replay_invalidations", ignore_result=True)
def replay_invalidations() -> dict[str, Any]:
    """Apply the outbox's invalidations that Redis lacks, and check it has not lost state."""
    from django_distcache import outbox

    return outbox.replay()


@shared_task(name="django_distcache.refresh_entries", ignore_result=True)
def refresh_entries(job: dict[str, Any]) -> int:
    """Reload stale entries under the lease their reader took (stale-while-revalidate)."""
    from django_distcache.reads import refresh

    return refresh.run(job)
