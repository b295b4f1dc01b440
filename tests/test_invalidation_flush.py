"""``flush`` without ``post_migrate`` (``inhibit_post_migrate``) invalidates what it emptied."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

import django_distcache
from tests.testapp.models import Category
from tests.workers import worker_env

pytestmark = pytest.mark.django_db(transaction=True)

MANAGE = Path(__file__).resolve().parent / "manage.py"


@django_distcache.cached(depends_on=[Category])
def category_names() -> list[str]:
    return sorted(Category.objects.values_list("name", flat=True))


def cache_reads(pk: int) -> None:
    assert django_distcache.get_object(Category, pk).name == "kept?"
    assert category_names() == ["kept?"]
    assert django_distcache.get_or_set("names", category_names, depends_on=[Category]) == ["kept?"]


def assert_all_fresh(pk: int) -> None:
    with pytest.raises(Category.DoesNotExist):
        django_distcache.get_object(Category, pk)
    assert category_names() == []
    assert django_distcache.get_or_set("names", category_names, depends_on=[Category]) == []


def test_flush_without_post_migrate_invalidates_what_it_emptied():
    pk = Category.objects.create(name="kept?").pk
    cache_reads(pk)
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    assert not Category.objects.exists()
    assert_all_fresh(pk)


def test_flush_inside_a_transaction_invalidates_at_its_commit():
    from django.db import transaction

    pk = Category.objects.create(name="kept?").pk
    cache_reads(pk)
    with transaction.atomic():
        call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
        # Not yet committed: other threads still see the row, and the cache with it.
        from tests.threads import run_in_thread

        assert run_in_thread(lambda: django_distcache.get_object(Category, pk).name) == "kept?"
    assert_all_fresh(pk)


def test_flush_inhibit_post_migrate_in_another_process():
    # A stealth option (as TransactionTestCase passes it): not on the command line.
    flush = (
        "from django.core.management import call_command; "
        "call_command('flush', interactive=False, inhibit_post_migrate=True)"
    )
    pk = Category.objects.create(name="kept?").pk
    cache_reads(pk)
    done = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c", flush],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert_all_fresh(pk)
