"""manage.py distcache_inspect KEY: what is cached under a get_or_set key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_distcache import keys, readthrough
from django_distcache.client import get_redis
from django_distcache.management.commands.distcache_invalidate import entry_key

PREVIEW = 300


class Command(BaseCommand):
    help = "Show the entries of a get_or_set KEY: value, TTL and generations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key as the application passed it to get_or_set")

    def handle(self, *args: Any, key: str, **options: Any) -> None:
        full = entry_key(key)
        redis = get_redis()
        pipe = redis.pipeline(transaction=False)
        pipe.get(full)
        pipe.pttl(full)
        pipe.exists(keys.lease_key(full))
        stored, ttl_ms, leased = pipe.execute()
        if stored is None:
            raise CommandError(f"Nothing is cached under key {key!r}.")
        generations, _, data = stored.partition(b"|")
        try:
            value = repr(readthrough.serializer().loads(data))
        except ValueError as exc:
            value = f"<cannot decode: {exc}>"
        self.stdout.write(f"key:          {full}")
        self.stdout.write(f"generations:  {generations.decode() or '(none)'}")
        self.stdout.write(f"ttl:          {ttl_ms / 1000:.1f}s" if ttl_ms >= 0 else "ttl: none")
        self.stdout.write(f"size:         {len(stored)} bytes")
        self.stdout.write(f"lease held:   {'yes' if leased else 'no'}")
        self.stdout.write(f"value:        {value[:PREVIEW]}")
