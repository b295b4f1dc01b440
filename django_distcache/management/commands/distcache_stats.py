"""manage.py distcache_stats [--json]: the cache's state as tables, or JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_distcache.management.tables import render_table
from django_distcache.overview import sections


class Command(BaseCommand):
    help = "Show write-behind backlog, dead letters, warm runs and this process's counters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        data = sections()
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        for name, rows in data.items():
            self.stdout.write(self.style.MIGRATE_HEADING(name.replace("_", " ").capitalize()))
            self.stdout.write(render_table(rows))
            self.stdout.write("")
