"""Every key a write-behind script touches is declared in its KEYS, and all the keys of a
call share one Redis Cluster slot (the model's hash tag): watched with MONITOR while the
whole write-behind life cycle runs on a redis-server of the test's own."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import router, transaction
from django.test import override_settings
from redis.crc import key_slot

import django_distcache
from django_distcache.redis.buffer_scripts import wb_script
from django_distcache.writebehind import flush_write_behind, replay_dead_letters
from django_distcache.writebehind.buffer import buffer_keys
from django_distcache.writebehind.flush import apply_batch, claim_batch
from django_distcache.writebehind.recovery import recover_stale_batches
from tests.factories import ProductFactory, TagFactory
from tests.testapp.models import Product, Tag

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPTS = ("write", "claim", "begin", "ack", "steal", "mark", "unmark", "peek", "replay")
_LINE = re.compile(r"^[\d.]+ \[\d+ ([^\]]+)\] (.*)$")
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Monitor:
    """``redis-cli monitor`` writing every command the server runs to a file."""

    def __init__(self, port: int, path: Path) -> None:
        binary = shutil.which("redis-cli")
        if binary is None:
            pytest.skip("redis-cli not installed (system package 'redis-tools')")
        self.client = redis.Redis(port=port)
        self.path = path
        self.out = path.open("wb")
        self.process = subprocess.Popen([binary, "-p", str(port), "monitor"], stdout=self.out)
        self._mark("monitor-started")

    def _mark(self, text: str) -> None:
        """Send ``text`` and wait until the monitor wrote it (so nothing before is lost)."""
        deadline = time.monotonic() + 30
        while text.encode() not in self.path.read_bytes():
            if time.monotonic() > deadline:
                pytest.fail("redis-cli monitor wrote nothing")
            self.client.echo(text)
            time.sleep(0.05)

    def lines(self) -> list[str]:
        self._mark("monitor-done")
        self.process.terminate()
        self.process.wait(timeout=10)
        self.out.close()
        return self.path.read_text(errors="replace").splitlines()


def script_calls(lines: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(sha, declared keys, inner commands) of each script call, in order."""
    calls: list[tuple[str, list[str], list[list[str]]]] = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        source, args = match.group(1), _ARG.findall(match.group(2))
        if source == "lua" and calls:
            calls[-1][2].append(args)
        elif source != "lua" and args and args[0].upper() in ("EVALSHA", "EVAL"):
            # EVAL carries its source (the invalidation script): not a write-behind one.
            name = args[1] if args[0].upper() == "EVALSHA" else "EVAL"
            calls.append((name, args[3 : 3 + int(args[2])], []))
    return calls


def keys_of(client: redis.Redis, command: list[str]) -> list[str]:
    try:
        keys = client.execute_command("COMMAND GETKEYS", *command)
    except redis.ResponseError:  # a command without keys (TIME)
        return []
    return [key.decode() if isinstance(key, bytes) else key for key in keys]


def save_then_fail(product: Product, stock: int) -> None:
    with transaction.atomic():
        product.stock = stock
        product.save()
        raise RuntimeError("rolled back")


def life_cycle() -> None:
    """Every path of write-behind: writes, reads, direct saves, updates and deletes (and
    one that rolls back), flushes with a retry and a dead letter, a replay, a recovery."""
    product, other, gone = ProductFactory.create_batch(3, stock=0)
    django_distcache.get_objects(Product, [product.pk, other.pk])
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    other.name = "renamed"
    django_distcache.write_behind(other, fields=["name"])
    django_distcache.get_object(Product, product.pk)
    django_distcache.get_objects(Product, [product.pk, other.pk])
    product.stock = 1
    product.save()
    Product.objects.filter(pk=other.pk).update(stock=5)
    django_distcache.write_behind_incr(Product, other.pk, "stock", by=1)
    with pytest.raises(RuntimeError, match="rolled back"):
        save_then_fail(other, stock=9)
    gone_pk = gone.pk
    gone.delete()
    django_distcache.write_behind_incr(Product, gone_pk, "stock", by=1)  # a dead letter
    flush_write_behind(Product)
    ProductFactory(pk=gone_pk, stock=0)
    replay_dead_letters(Product)
    # A claimed batch whose flush dies: recovered once its lease runs out.
    batch_id, pks = claim_batch(Product)
    apply_batch(Product, router.db_for_write(Product), buffer_keys(Product), batch_id, pks)
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).zadd(
        buffer_keys(Product).batches, {batch_id: 0}
    )
    recover_stale_batches(Product, router.db_for_write(Product))
    # A row that fails its update is retried.
    TagFactory(name="taken")
    tag = TagFactory(name="x")
    tag.name = "taken"
    django_distcache.write_behind(tag, fields=["name"])
    flush_write_behind(Tag)


def test_write_behind_scripts_touch_only_declared_keys_of_one_slot(redis_process, tmp_path):
    server = redis_process()
    caches = {
        **settings.CACHES,
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url},
    }
    quiet = {"KEY_PREFIX": "dctest", "STATS_ENABLED": False, "WRITE_BEHIND_RETRY_BACKOFF": 0}
    with override_settings(CACHES=caches, DISTCACHE=quiet):
        names = {wb_script(name).sha: name for name in SCRIPTS}
        monitor = Monitor(server.port, tmp_path / "monitor.txt")
        life_cycle()
        lines = monitor.lines()
    client = redis.Redis(port=server.port)
    seen: dict[str, int] = defaultdict(int)
    for sha, declared, inner in script_calls(lines):
        if sha not in names:
            continue  # the read path's scripts
        name = names[sha]
        seen[name] += 1
        assert len({key_slot(key.encode()) for key in declared}) <= 1, (name, declared)
        for command in inner:
            undeclared = set(keys_of(client, command)) - set(declared)
            assert not undeclared, (name, command, declared)
    assert set(seen) == set(SCRIPTS), seen
