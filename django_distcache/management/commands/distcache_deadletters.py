"""manage.py distcache_deadletters list|replay|discard app.Model: the rows the flush gave up on."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache.management.tables import render_table
from django_distcache.redis.errors import RedisError
from django_distcache.registry import NotRegistered
from django_distcache.writebehind import (
    NotWriteBehind,
    dead_letters,
    discard_dead_letters,
    replay_dead_letters,
)


class Command(BaseCommand):
    help = (
        "List, replay (buffer their writes again) or discard the dead letters of a "
        "write-behind model, oldest first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "replay", "discard"])
        parser.add_argument("model", metavar="app_label.Model")
        parser.add_argument(
            "--limit", type=int, default=None, help="only the first N letters (list: 100)"
        )

    def handle(
        self, *args: Any, action: str, model: str, limit: int | None, **options: Any
    ) -> None:
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be 1 or more, got {limit}.")
        try:
            if action == "list":
                letters = dead_letters(model, limit or 100)
                self.stdout.write(render_table([_row(letter) for letter in letters]))
            elif action == "replay":
                count = replay_dead_letters(model, limit)
                self.stdout.write(f"Replayed {count} dead letters of {model}.")
            else:
                count = discard_dead_letters(model, limit)
                self.stdout.write(f"Discarded {count} dead letters of {model}.")
        except (LookupError, NotRegistered, NotWriteBehind) as exc:
            raise CommandError(str(exc)) from exc
        except RedisError as exc:
            raise CommandError(f"The write-behind buffer's Redis is unavailable: {exc}") from exc


def _row(letter: dict[str, Any]) -> dict[str, Any]:
    writes = {**letter["values"], **{f"+{k}": v for k, v in letter["increments"].items()}}
    return {
        "pk": letter["pk"],
        "writes": json.dumps(writes, default=str),
        "attempts": letter["attempts"],
        "failed_at": letter["failed_at"],
        "error": letter["error"],
    }
