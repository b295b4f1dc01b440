"""A write outside a transaction is as durable as one inside, on every database: if its
process dies between the commit and Redis, the outbox replays its invalidation."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import django_distcache
from django_distcache import outbox
from django_distcache.models import OutboxEntry
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_write_outside_a_transaction_whose_invalidation_never_ran_is_replayed(monkeypatch):
    category = Category.objects.create(name="before")
    assert django_distcache.get_object(Category, category.pk).name == "before"
    OutboxEntry.objects.all().delete()
    applying = importlib.import_module("django_distcache.invalidation.apply")

    def dies_before_redis(*args: Any, **kwargs: Any) -> bool:
        return True  # the process is gone: nothing applied, nothing acknowledged or kept

    monkeypatch.setattr(applying.outbox_module, "apply", dies_before_redis)
    category.name = "after"
    category.save()
    monkeypatch.undo()
    assert django_distcache.get_object(Category, category.pk).name == "before"  # stale
    assert OutboxEntry.objects.count() == 1  # committed with the write
    outbox.replay(due_only=False)  # what a recovering process or the task does
    assert django_distcache.get_object(Category, category.pk).name == "after"
    assert not OutboxEntry.objects.exists()
