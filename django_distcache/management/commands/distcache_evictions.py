"""Count evicted keys per namespace from Redis keyspace notifications (one per Redis)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache.redis.errors import RedisError
from django_distcache.stats.evictions import listen


class Command(BaseCommand):
    help = (
        "Listen for Redis evictions and count them per cache namespace. Redis must "
        "publish them: notify-keyspace-events must include 'E' and 'e'. Run one per Redis."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seconds",
            type=float,
            default=None,
            help="Stop after this many seconds (default: run until interrupted).",
        )

    def handle(self, *args: Any, seconds: float | None, **options: Any) -> None:
        if seconds is not None and seconds <= 0:
            raise CommandError(f"--seconds must be a positive number, got {seconds}.")
        self.stdout.write("Counting evictions per namespace; Ctrl-C to stop.")
        try:
            counted = listen(seconds=seconds)
        except KeyboardInterrupt:
            return
        except RedisError as exc:
            raise CommandError(f"Redis is unavailable: {exc}") from exc
        self.stdout.write(f"Counted {counted} evictions.")
