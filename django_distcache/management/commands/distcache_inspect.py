"""manage.py distcache_inspect KEY | --object app.Model PK: what a cache entry holds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache.inspection import (
    NothingCached,
    inspect_entry,
    key_of_get_or_set,
    key_of_object,
)
from django_distcache.redis.errors import RedisError


class Command(BaseCommand):
    help = "Show a get_or_set KEY's entry, or a cached object's: value, TTL and generations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "key", nargs="?", help="the key as the application passed it to get_or_set"
        )
        parser.add_argument(
            "--object", nargs=2, metavar=("app_label.Model", "PK"), help="a cached object"
        )

    def handle(self, *args: Any, key: str | None, object: list[str] | None, **opts: Any) -> None:
        if bool(key) == bool(object):
            raise CommandError("Give a get_or_set KEY or --object app_label.Model PK (one).")
        try:
            full = key_of_object(*object) if object else key_of_get_or_set(key or "")
            entry = inspect_entry(full)
        except NothingCached as exc:
            raise CommandError(
                f"Nothing is cached under key {key!r}." if key else str(exc)
            ) from exc
        except RedisError as exc:
            raise CommandError(f"Redis is unavailable: {exc}") from exc
        self.stdout.write(f"key:          {entry['key']}")
        self.stdout.write(f"generations:  {entry['generations']}")
        ttl = entry["ttl"]
        self.stdout.write(f"ttl:          {ttl:.1f}s" if ttl is not None else "ttl:          none")
        self.stdout.write(f"size:         {entry['size']} bytes")
        self.stdout.write(f"lease held:   {'yes' if entry['leased'] else 'no'}")
        self.stdout.write(f"value:        {entry['value']}")
