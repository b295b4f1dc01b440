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
    assert "Product" in run("distcache_invalidate", "testapp.Product")
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, product.pk)
    calls = []
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert "tag 't'" in run("distcache_invalidate", "tag:t")
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert "Deleted the entry of key 'k 1'" in run("distcache_invalidate", "key:k 1")
    django_distcache.get_or_set("k 1", lambda: calls.append(1) or "v", tags=["t"])
    assert len(calls) == 3
    assert "No entry of key 'k 2'" in run("distcache_invalidate", "key:k 2")


@pytest.mark.parametrize("target", ["nope.Model", "what", "tag:"])
def test_invalidate_command_rejects_bad_targets(target):
    with pytest.raises(CommandError):
        run("distcache_invalidate", target)


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


def test_stats_command_table_and_json():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    django_distcache.get_object(Product, product.pk)
    table = run("distcache_stats")
    assert "Write behind" in table
    assert "testapp.product" in table
    data = json.loads(run("distcache_stats", "--json"))
    assert data["write_behind"][0]["pending"] == 1
    assert set(data) >= {"write_behind", "warm_runs", "local_counts"}
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


def test_warm_command_async_queues_the_task_on_a_worker(start_worker):
    from celery.result import AsyncResult

    start_worker("warm-async")
    ProductFactory.create_batch(2)
    output = run("distcache_warm", "products", "--async")
    task_id = output.strip().split()[-1].rstrip(".")
    [result] = AsyncResult(task_id).get(timeout=30)
    assert (result["name"], result["entries"]) == ("products", 2)
