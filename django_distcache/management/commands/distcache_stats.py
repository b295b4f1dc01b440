"""manage.py distcache_stats [--json]: the cache's state as tables, or JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_distcache.management.tables import render_table
from django_distcache.overview import sections
from django_distcache.redis.errors import RedisError
from django_distcache.stats import snapshot

NAMESPACE_COLUMNS = ["namespace", "hit_rate", "hits", "misses", "loads", "sets", "invalidations"]
NODE_COLUMNS = [
    "node",
    "used_memory",
    "maxmemory",
    "evicted_keys",
    "expired_keys",
    "ops_per_sec",
    "connected_clients",
]


def statistics(snap: dict[str, Any]) -> dict[str, Any]:
    """Hit rates overall and per namespace, Redis memory per node and the health warnings."""
    overall = {"namespace": "(all)", **snap["overall"]}
    return {
        "statistics": [overall, *snap["namespaces"]],
        "redis": snap["redis"]["nodes"],
        "health_warnings": warnings(snap),
    }


def warnings(snap: dict[str, Any]) -> list[dict[str, str]]:
    """The snapshot's health warnings as rows."""
    return [{"warning": text} for text in snap["warnings"]]


class Command(BaseCommand):
    help = (
        "Show hit rates per namespace, Redis memory, write-behind backlog and dead letters, "
        "warm runs, this process's counters and the health warnings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            snap = snapshot()
            down = None if snap["redis"]["available"] else snap["redis"]["error"]
            # With Redis down, the sections that do not need it (the outages above all)
            # are still shown before the command ends with the error.
            shown = statistics(snap) if down is None else {"health_warnings": warnings(snap)}
            data = {**shown, **sections()}
        except RedisError as exc:
            raise CommandError(f"Redis is unavailable: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(f"The database is unavailable: {exc}") from exc
        self.show(data, as_json=options["json"])
        if down is not None:
            raise CommandError(f"Redis is unavailable: {down}")

    def show(self, data: dict[str, Any], as_json: bool) -> None:
        """Print the sections as one JSON object or as one table each."""
        if as_json:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        columns = {"statistics": NAMESPACE_COLUMNS, "redis": NODE_COLUMNS}
        for name, rows in data.items():
            self.stdout.write(self.style.MIGRATE_HEADING(name.replace("_", " ").capitalize()))
            self.stdout.write(render_table(rows, columns.get(name)))
            self.stdout.write("")
