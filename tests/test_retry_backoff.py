"""A write-behind row that fails waits WRITE_BEHIND_RETRY_BACKOFF seconds, doubled each time."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

import django_distcache
from django_distcache.writebehind import flush_write_behind
from django_distcache.writebehind.buffer import buffer_keys, now_ms
from tests.factories import TagFactory
from tests.testapp.models import Tag

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(
    DISTCACHE={
        "KEY_PREFIX": "dctest",
        "WRITE_BEHIND_MAX_ATTEMPTS": 5,
        "WRITE_BEHIND_RETRY_BACKOFF": 2.0,
    }
)
def test_a_failing_row_waits_the_backoff_doubled_after_each_failure(raw_redis):
    TagFactory(name="taken")
    bad = TagFactory(name="free")
    bad.name = "taken"  # a unique violation on every flush
    django_distcache.write_behind(bad, fields=["name"])
    pending = buffer_keys(Tag).pending
    for backoff_ms in (2000, 4000):
        (member, due) = raw_redis.zrange(pending, 0, -1, withscores=True)[0]
        while now_ms() < due:  # the row becomes due: time passes, nothing else
            time.sleep(0.05)
        before = now_ms()
        assert flush_write_behind(Tag)["retried"] == 1
        after = now_ms()
        due = raw_redis.zscore(pending, member)
        assert before + backoff_ms <= due <= after + backoff_ms
        # not due yet: the next flush leaves it alone (the backoff is seconds away)
        counts = flush_write_behind(Tag)
        assert (counts["retried"], counts["rows"], counts["dead_lettered"]) == (0, 0, 0)
    assert Tag.objects.get(pk=bad.pk).name == "free"
