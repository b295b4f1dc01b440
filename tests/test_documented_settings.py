"""Settings the docs describe that no other test exercised."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks


@pytest.mark.parametrize(("interval", "warned"), [(100.0, False), (200.0, True)])
def test_w010_asks_the_broker_to_outlast_two_flush_intervals(settings, interval, warned):
    """docs/write-behind.md: a flush task may stay unacknowledged for
    max(WRITE_BEHIND_LEASE_TIMEOUT, 2 x WRITE_BEHIND_FLUSH_INTERVAL); the test broker
    redelivers after 300 s (its visibility_timeout)."""
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_LEASE_TIMEOUT": 60.0,
        "WRITE_BEHIND_FLUSH_INTERVAL": interval,
    }
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 300
    warnings = [m for m in run_checks() if m.id == "distcache.W010"]
    assert bool(warnings) is warned
    if warned:
        assert "twice WRITE_BEHIND_FLUSH_INTERVAL" in warnings[0].hint


@pytest.mark.parametrize("value", [0, -1.0, "5"])
def test_a_flush_interval_that_is_not_a_positive_number_is_an_error(settings, value):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_FLUSH_INTERVAL": value}
    errors = [m for m in run_checks() if m.id == "distcache.E012"]
    assert any("WRITE_BEHIND_FLUSH_INTERVAL" in m.msg for m in errors)
