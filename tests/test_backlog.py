"""backlog(): what dashboards read about the write-behind queues, before and after a flush."""

from __future__ import annotations

import time

import pytest

import django_distcache
from django_distcache.writebehind import backlog, flush_write_behind
from tests.factories import ProductFactory, TagFactory
from tests.testapp.models import Product, Tag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def test_backlog_counts_waiting_rows_and_then_the_flushed_ones():
    first, second = ProductFactory.create_batch(2, stock=0)
    for pk in (first.pk, first.pk, second.pk):
        django_distcache.write_behind_incr(Product, pk, "stock")
    (waiting,) = backlog()
    assert waiting["model"] == "testapp.product"
    assert (waiting["pending"], waiting["in_flight"], waiting["dead_letters"]) == (2, 0, 0)
    assert (waiting["rows"], waiting["writes"]) == (0, 0)  # nothing flushed yet
    # the oldest waiting row ages: seconds since its write, growing
    deadline = time.monotonic() + 30  # guards against a hang only
    while backlog()[0]["oldest_age"] < 0.2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 0.2 <= backlog()[0]["oldest_age"] < 60
    flush_write_behind(Product)
    assert backlog() == []  # nothing waiting, nothing dead: the model is not listed


def test_rows_of_a_model_no_longer_registered_for_write_behind_stay_in_the_backlog():
    # e.g. after a deploy that dropped write_behind=True while rows were waiting
    tag = TagFactory(name="before")
    tag.name = "after"
    django_distcache.write_behind(tag, fields=["name"])
    django_distcache.register(Tag)  # the registration fixture restores it after the test
    assert [row["model"] for row in backlog()] == ["testapp.tag"]
    assert backlog()[0]["pending"] == 1
