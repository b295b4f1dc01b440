"""manage.py distcache_invalidate app.Model|tag:NAME|key:KEY: drop cached entries."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache import keys, operations
from django_distcache.inspection import key_of_get_or_set as entry_key
from django_distcache.outbox.apply import bump
from django_distcache.redis.entries import count_existing
from django_distcache.redis.errors import RedisError
from django_distcache.registry import resolve_model


class Command(BaseCommand):
    help = "Invalidate a model's entries, a tag, or one get_or_set key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="app_label.Model, tag:NAME or key:KEY")

    def handle(self, *args: Any, target: str, **options: Any) -> None:
        kind, _, name = target.partition(":")
        try:
            if kind == "tag" and name:
                done = operations.invalidate_namespace(f"{operations.TAG_PREFIX}{name}")
            elif kind == "key" and name:
                done = self.delete_key(name)
            elif ":" not in target and "." in target:
                done = operations.invalidate_namespace(self.model_namespace(target))
            else:
                raise CommandError(
                    f"Cannot invalidate {target!r}: give app_label.Model, tag:NAME or key:KEY."
                )
        except operations.OperationFailed as exc:
            raise CommandError(f"Nothing invalidated: {exc}") from exc
        self.stdout.write(f"Invalidated {done}.")

    def model_namespace(self, label: str) -> str:
        try:
            model = resolve_model(label)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        namespace = model._meta.label_lower
        if namespace not in operations.model_namespaces():
            raise CommandError(
                f"{model._meta.label} is not cached: it is neither registered nor in the "
                "depends_on of a cached function. Nothing invalidated."
            )
        return namespace

    def delete_key(self, name: str) -> str:
        full = entry_key(name)
        try:
            cached = count_existing([full, keys.lease_key(full)])
            if cached:
                # Through the one script that applies invalidations: deleted with its
                # lease, and published to every process's near cache.
                bump([], [full])
        except RedisError as exc:
            raise operations.OperationFailed(f"Redis is unavailable: {exc}") from exc
        if not cached:
            raise CommandError(f"Nothing is cached under key {name!r}. Nothing invalidated.")
        return f"the entry of key {name!r}"
