"""Each process adds its hot-key counts to Redis every HOT_KEYS_FLUSH_INTERVAL seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from django_distcache import hotkeys
from tests.factories import ProductFactory
from tests.workers import worker_env

ROOT = Path(__file__).resolve().parent.parent

READER = """
import sys, time, django
django.setup()
import django_distcache
from tests.testapp.models import Product
for pk in map(int, sys.argv[1:]):
    django_distcache.get_object(Product, pk)
print("read", flush=True)
time.sleep(120)  # no flush at exit: the counts must arrive while it runs
"""


@pytest.mark.django_db(transaction=True)
def test_a_reading_process_adds_its_counts_on_its_interval():
    hot, cold = ProductFactory(), ProductFactory()
    reads = [hot.pk, hot.pk, hot.pk, cold.pk]
    process = subprocess.Popen(
        [sys.executable, "-c", READER, *map(str, reads)],
        cwd=ROOT,
        env=worker_env({"HOT_KEYS_FLUSH_INTERVAL": 0.5}),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "read"
        expected = [(str(hot.pk), 3.0), (str(cold.pk), 1.0)]
        deadline = time.monotonic() + 30  # guards against a hang only
        while hotkeys.hottest("testapp.product") != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        hottest = hotkeys.hottest("testapp.product")
    finally:
        process.kill()
        process.communicate()
    assert hottest == expected
