"""manage.py distcache_invalidate app.Model|tag:NAME|key:KEY: drop cached entries."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache import keys
from django_distcache.client import get_redis
from django_distcache.invalidation import invalidate_model, invalidate_tag
from django_distcache.registry import resolve_model


def entry_key(key: str) -> str:
    """The Redis key of a get_or_set ``key``'s entry."""
    return keys.entry_base("key", "get_or_set", key)


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
            full = entry_key(name)
            deleted = get_redis().delete(full, keys.lease_key(full))
            message = "Deleted the entry" if deleted else "No entry"
            self.stdout.write(f"{message} of key {name!r}.")
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
