"""manage.py distcache_warm [NAMES...] [--async [--parts N]]: run cache warmers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu.exceptions import OperationalError

from django_distcache.conf import get_settings
from django_distcache.management.progress import ProgressBar
from django_distcache.management.tables import render_table
from django_distcache.redis.errors import RedisError
from django_distcache.warming import warm, warmer_names
from django_distcache.warming.runner import parts_of


def queue_warm_cache(names: list[str] | None, parts: int = 1) -> list[str]:
    """Send the warm_cache task, one per part; their ids. CommandError when the broker or
    backend is down."""
    from django_distcache.tasks import warm_cache

    with warm_cache.app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except OperationalError as exc:
            raise CommandError(f"Nothing queued: the Celery broker is unavailable: {exc}") from exc
    queue = get_settings().WRITE_BEHIND_QUEUE
    try:
        results = [
            warm_cache.apply_async(args=[names], kwargs={"part": i, "parts": n}, queue=queue)
            for i, n in parts_of(parts)
        ]
    except OperationalError as exc:
        raise CommandError(f"Nothing queued: the Celery broker is unavailable: {exc}") from exc
    except RuntimeError as exc:  # Celery's result backend gave up reconnecting
        raise CommandError(f"The Celery result backend is unavailable: {exc}") from exc
    return [str(result.id) for result in results]


class Command(BaseCommand):
    help = "Run cache warmers (all of them when no name is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="warmer names")
        parser.add_argument(
            "--async",
            action="store_true",
            dest="run_async",
            help="queue a warm_cache task on the distcache Celery queue instead",
        )
        parser.add_argument(
            "--parts",
            type=int,
            default=1,
            metavar="N",
            help="with --async: split the run into N tasks, for N workers to share",
        )

    def handle(
        self, *args: Any, names: list[str], run_async: bool, parts: int, **options: Any
    ) -> None:
        if parts < 1:
            raise CommandError(f"--parts must be at least 1, not {parts}.")
        if parts > 1 and not run_async:
            raise CommandError("--parts splits a run across workers: use it with --async.")
        known = warmer_names()
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CommandError(
                f"Unknown warmer(s): {', '.join(unknown)}. Known: {', '.join(known) or 'none'}."
            )
        selected = names or None
        if run_async:
            ids = queue_warm_cache(selected, parts)
            noun = "task" if len(ids) == 1 else f"tasks ({len(ids)} parts)"
            self.stdout.write(f"Queued warm_cache {noun} {', '.join(ids)}.")
            return
        bar = ProgressBar(self.stderr, len(names or known), enabled=options["verbosity"] > 0)
        try:
            results = warm(
                selected,
                progress=lambda done, total, name, entries: bar.update(
                    done, f"{name} ({entries} entries)" if name else ""
                ),
            )
        except RedisError as exc:
            raise CommandError(f"Warming stopped: Redis is unavailable: {exc}") from exc
        bar.finish()
        self.stdout.write(render_table(results, ["name", "entries", "duration", "errors"]))
        failed = [r["name"] for r in results if r["errors"]]
        if failed:
            raise CommandError(f"Warmer(s) reported errors: {', '.join(failed)}.")
