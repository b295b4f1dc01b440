"""manage.py distcache_warm [NAMES...] [--async]: run cache warmers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache.conf import get_settings
from django_distcache.management.progress import ProgressBar
from django_distcache.management.tables import render_table
from django_distcache.warming import warm, warmer_names


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

    def handle(self, *args: Any, names: list[str], run_async: bool, **options: Any) -> None:
        known = warmer_names()
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CommandError(
                f"Unknown warmer(s): {', '.join(unknown)}. Known: {', '.join(known) or 'none'}."
            )
        selected = names or None
        if run_async:
            from django_distcache.tasks import warm_cache

            result = warm_cache.apply_async(
                args=[selected], queue=get_settings().WRITE_BEHIND_QUEUE
            )
            self.stdout.write(f"Queued warm_cache task {result.id}.")
            return
        bar = ProgressBar(self.stderr, len(names or known), enabled=options["verbosity"] > 0)
        results = warm(
            selected,
            progress=lambda done, total, name, entries: bar.update(
                done, f"{name} ({entries} entries)" if name else ""
            ),
        )
        bar.finish()
        self.stdout.write(render_table(results, ["name", "entries", "duration", "errors"]))
        failed = [r["name"] for r in results if r["errors"]]
        if failed:
            raise CommandError(f"Warmer(s) reported errors: {', '.join(failed)}.")
