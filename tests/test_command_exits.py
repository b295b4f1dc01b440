"""Exit codes and output the commands' docs promise, from a real manage.py process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import django_distcache
from django_distcache.writebehind import backlog
from tests.factories import ProductFactory
from tests.testapp.models import Product
from tests.workers import worker_env

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = Path(__file__).resolve().parent / "manage.py"


def manage(*args: str, db_port: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=worker_env(db_port=db_port),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_warm_exits_1_when_a_warmer_reports_errors_and_still_runs_the_others():
    ProductFactory.create_batch(2)
    result = manage("distcache_warm", "broken", "products")
    assert result.returncode == 1
    assert "Warmer(s) reported errors: broken." in result.stderr
    assert "products" in result.stdout
    assert manage("distcache_warm", "products").returncode == 0


def test_progress_bars_go_to_stderr_unless_verbosity_is_0():
    assert manage("distcache_warm", "categories").stderr != ""
    quiet = manage("distcache_warm", "categories", "-v", "0")
    assert quiet.returncode == 0
    assert quiet.stderr == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


def test_flush_exits_1_when_the_database_is_down_and_loses_nothing():
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    result = manage("distcache_flush", db_port=_closed_port())
    assert result.returncode == 1
    assert "The database is unavailable; nothing lost" in result.stderr
    assert backlog()[0]["pending"] == 1
    assert manage("distcache_flush").returncode == 0
    assert Product.objects.get(pk=product.pk).stock == 3
