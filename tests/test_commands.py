"""The distcache_* management commands, through call_command and a real manage.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import django_distcache
from django_distcache import stats
from django_distcache.writebehind import backlog
from tests.factories import CategoryFactory, ProductFactory
from tests.testapp.models import Product
from tests.workers import worker_env

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = Path(__file__).resolve().parent / "manage.py"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flush_command_writes_the_buffer():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    output = run("distcache_flush", "--model", "testapp.Product")
    assert "testapp.product" in output
    assert Product.objects.get(pk=product.pk).stock == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope.Model"], "not an installed model"),
        (["--model", "testapp.Category"], "does not allow write-behind"),
        (["--model", "testapp.Uncached"], "not registered"),
    ],
)
def test_flush_command_rejects_bad_models(args, message):
    with pytest.raises(CommandError, match=message):
        run("distcache_flush", *args)


def test_warm_command_stores_entries(django_assert_num_queries):
    products = ProductFactory.create_batch(3)
    output = run("distcache_warm", "products")
    assert "products" in output
    with django_assert_num_queries(0):
        for product in products:
            django_distcache.get_object(Product, product.pk)


def test_warm_command_rejects_unknown_warmers():
    with pytest.raises(CommandError, match=r"Unknown warmer.*nope.*Known: .*categories"):
        run("distcache_warm", "nope")


def test_invalidate_command_targets(django_assert_num_queries):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    assert "every cached entry of testapp.product" in run("distcache_invalidate", "testapp.Product")
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, product.pk)
    calls = []
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert "Invalidated every entry tagged 't'." in run("distcache_invalidate", "tag:t")
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert "Invalidated the entry of key 'k 1'." in run("distcache_invalidate", "key:k 1")
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert len(calls) == 3
    with pytest.raises(CommandError, match="Nothing is cached under key 'k 2'"):
        run("distcache_invalidate", "key:k 2")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nope.Model", "nope"),
        ("what", "give app_label.Model, tag:NAME or key:KEY"),
        ("tag:", "give app_label.Model, tag:NAME or key:KEY"),
        ("testapp.Uncached", "testapp.Uncached is not cached"),
        ("tag:mistyped", "Nothing was ever cached with tag 'mistyped'"),
    ],
)
def test_invalidate_command_rejects_bad_targets(target, message, raw_redis):
    before = set(raw_redis.scan_iter())
    with pytest.raises(CommandError, match=message):
        run("distcache_invalidate", target)
    stats.flush()
    # no generation key and no statistics row for the mistyped name
    assert set(raw_redis.scan_iter()) == before
    assert not [row for row in stats.snapshot()["namespaces"] if "mistyped" in row["namespace"]]


def test_inspect_command_shows_value_ttl_and_generations(raw_redis):
    CategoryFactory()  # a committed write: the Category generation is past its first value
    django_distcache.get_or_set("menu", lambda: {"items": [1, 2]}, depends_on=["testapp.Category"])
    output = run("distcache_inspect", "menu")
    assert "value:        {'items': [1, 2]}" in output
    assert re.search(r"^ttl:          \d+\.\ds$", output, re.MULTILINE)
    category_generation = raw_redis.get("dctest:gen:model:testapp.category").decode()
    (shown,) = re.findall(r"^generations:  (\S+)$", output, re.MULTILINE)
    assert category_generation in shown.split(".")
    with pytest.raises(CommandError, match="Nothing is cached under key 'other'"):
        run("distcache_inspect", "other")


def test_inspect_command_shows_a_cached_object():
    product = ProductFactory(name="Lamp")
    django_distcache.get_object(Product, product.pk)
    output = run("distcache_inspect", "--object", "testapp.Product", str(product.pk))
    assert "Lamp" in output
    assert "lease held:   no" in output
    with pytest.raises(CommandError, match="Nothing is cached under"):
        run("distcache_inspect", "--object", "testapp.Product", str(product.pk + 1))
    with pytest.raises(CommandError, match=r"testapp\.Uncached is not registered"):
        run("distcache_inspect", "--object", "testapp.Uncached", "1")
    with pytest.raises(CommandError, match="one"):
        run("distcache_inspect")


def test_stats_command_table_and_json():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    django_distcache.get_object(Product, product.pk)  # a miss
    django_distcache.get_object(Product, product.pk)  # a hit
    table = run("distcache_stats")
    # what the README promises: statistics, Redis memory, backlog, warm runs, health warnings
    for heading in ("Statistics", "Redis", "Write behind", "Warm runs", "Health warnings"):
        assert f"{heading}\n" in table
    assert "testapp.product" in table
    assert "used_memory" in table
    data = json.loads(run("distcache_stats", "--json"))
    assert data["write_behind"][0]["pending"] == 1
    (row,) = [r for r in data["statistics"] if r["namespace"] == "testapp.product"]
    assert (row["hits"], row["misses"], row["hit_rate"]) == (1, 1, 0.5)
    assert data["redis"][0]["used_memory"] > 0
    assert set(data) >= {"write_behind", "warm_runs", "local_counts", "health_warnings"}
    assert backlog()[0]["pending"] == 1


def test_commands_as_manage_py_subprocesses():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    flushed = manage("distcache_flush")
    assert flushed.returncode == 0, flushed.stderr
    assert Product.objects.get(pk=product.pk).stock == 2
    stats = manage("distcache_stats", "--json")
    assert stats.returncode == 0
    assert "warm_runs" in json.loads(stats.stdout)
    bad = manage("distcache_warm", "nope")
    assert bad.returncode == 1
    assert "Unknown warmer(s): nope" in bad.stderr
    helped = manage("distcache_invalidate", "--help")
    assert helped.returncode == 0
    assert "tag:NAME" in helped.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["distcache_stats"], "Redis is unavailable"),
        (["distcache_stats", "--json"], "Redis is unavailable"),
        (["distcache_invalidate", "testapp.Product"], "Nothing invalidated: Redis is unavailable"),
        (["distcache_invalidate", "tag:t"], "Nothing invalidated: Redis is unavailable"),
        (["distcache_invalidate", "key:k"], "Nothing invalidated: Redis is unavailable"),
        (["distcache_warm", "products", "--async"], "Nothing queued: the Celery broker"),
    ],
)
def test_commands_with_redis_and_the_broker_down_say_so(args, message, redis_process):
    server = redis_process()
    server.stop()  # the cache and the broker both point at a Redis that is gone
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env={**worker_env(), "DISTCACHE_TEST_REDIS_URL": f"redis://127.0.0.1:{server.port}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout
    assert f"CommandError: {message}" in done.stderr or f"Error: {message}" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalidated" not in done.stdout


def test_warm_command_async_queues_the_task_on_a_worker(start_worker):
    from celery.result import AsyncResult

    start_worker("warm-async")
    ProductFactory.create_batch(2)
    output = run("distcache_warm", "products", "--async")
    task_id = output.strip().split()[-1].rstrip(".")
    [result] = AsyncResult(task_id).get(timeout=30)
    assert (result["name"], result["entries"]) == ("products", 2)
