"""System checks distcache.E020-E022 of the statistics and health settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings


def _ids(**distcache) -> list[str]:
    with override_settings(DISTCACHE={**settings.DISTCACHE, **distcache}):
        return [error.id for error in run_checks() if error.id.startswith("distcache.")]


def test_defaults_pass():
    assert _ids() == []


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("STATS_FLUSH_INTERVAL", 0, "distcache.E020"),
        ("STATS_HISTORY_RETENTION", "1 day", "distcache.E020"),
        ("STATS_FLUSH_EVERY", 0, "distcache.E020"),
        ("HEALTH_MIN_HIT_RATE", 80, "distcache.E021"),
        ("HEALTH_MAX_MEMORY", -0.1, "distcache.E021"),
        ("HEALTH_MAX_BACKLOG_AGE", 0, "distcache.E021"),
        ("HEALTH_MIN_READS", 1.5, "distcache.E021"),
        ("STATS_ENABLED", "yes", "distcache.E022"),
        ("HEALTH_WARN_ON_EVICTIONS", 1, "distcache.E022"),
    ],
)
def test_bad_values_are_reported(name, value, check_id):
    assert _ids(**{name: value}) == [check_id]


def test_thresholds_can_be_turned_off():
    assert _ids(HEALTH_MIN_HIT_RATE=None, HEALTH_MAX_MEMORY=None, HEALTH_MAX_BACKLOG_AGE=None) == []
