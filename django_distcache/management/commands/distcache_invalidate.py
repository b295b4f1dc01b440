"""manage.py distcache_invalidate app.Model|tag:NAME|key:KEY: drop cached entries."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache import keys
from django_distcache.client import get_redis
from django_distcache.invalidation import invalidate_model, invalidate_tag
from django_distcache.registry import resolve_model


def entries_of_key(key: str) -> list[bytes]:
    """The stored entries of a get_or_set ``key``, under any generations.

    NOTE: a SCAN of the keyspace; fine for a command, not for request paths.
    """
    base = keys.entry_base("key", "get_or_set", key)
    pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in base) + "@*"
    return [
        k for k in get_redis().scan_iter(match=pattern, count=1000) if not k.endswith(b":lease")
    ]


class Command(BaseCommand):
    help = "Invalidate a model's entries, a tag, or one get_or_set key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="app_label.Model, tag:NAME or key:KEY")

    def handle(self, *args: Any, target: str, **options: Any) -> None:
        kind, _, name = target.partition(":")
        if kind == "tag" and name:
            invalidate_tag(name)
            self.stdout.write(f"Invalidated tag {name!r}.")
        elif kind == "key" and name:
            found = entries_of_key(name)
            if found:
                get_redis().delete(*found, *(k + b":lease" for k in found))
            self.stdout.write(
                f"Deleted {len(found)} entr{'y' if len(found) == 1 else 'ies'} of key {name!r}."
            )
        elif ":" not in target and "." in target:
            try:
                model = resolve_model(target)
            except LookupError as exc:
                raise CommandError(str(exc)) from exc
            invalidate_model(model)
            self.stdout.write(f"Invalidated every entry of {model._meta.label}.")
        else:
            raise CommandError(
                f"Cannot invalidate {target!r}: give app_label.Model, tag:NAME or key:KEY."
            )
