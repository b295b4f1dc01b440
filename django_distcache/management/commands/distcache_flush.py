"""manage.py distcache_flush [--model app.Model]: flush write-behind buffers in-process."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache.management.progress import ProgressBar
from django_distcache.management.tables import render_table
from django_distcache.redis.errors import RedisError
from django_distcache.registry import NotRegistered, resolve_model
from django_distcache.writebehind import NotWriteBehind, write_behind_models
from django_distcache.writebehind.flush import DATABASE_DOWN, flush_model


class Command(BaseCommand):
    help = "Write the buffered writes to the database now (for deploys and cron)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", metavar="app_label.Model", help="flush only this model")

    def handle(self, *args: Any, model: str | None, **options: Any) -> None:
        from django_distcache.writebehind.buffer import write_behind_config

        if model:
            try:
                targets = [resolve_model(model)]
                write_behind_config(targets[0])
            except (LookupError, NotRegistered, NotWriteBehind) as exc:
                raise CommandError(str(exc)) from exc
        else:
            targets = write_behind_models()
        bar = ProgressBar(self.stderr, len(targets), enabled=options["verbosity"] > 0)
        rows = []
        for index, target in enumerate(targets):
            bar.update(index, target._meta.label_lower)
            try:
                counts = flush_model(target)
            except DATABASE_DOWN as exc:
                raise CommandError(f"The database is unavailable; nothing lost: {exc}") from exc
            except RedisError as exc:
                raise CommandError(
                    f"The write-behind buffer's Redis is unavailable; nothing flushed: {exc}"
                ) from exc
            rows.append({"model": target._meta.label_lower, **_summary(counts)})
        bar.finish()
        self.stdout.write(render_table(rows))


def _summary(counts: Counter[str]) -> dict[str, int]:
    names = ("rows", "writes", "coalesced", "dead_lettered", "retried", "recovered")
    return {name: counts.get(name, 0) for name in names}
