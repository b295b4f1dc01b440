"""System checks of the outage settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

from django_distcache.beat import BEAT_SCHEDULE

OUTAGE_CHECKS = {"distcache.E060", "distcache.W060"}


def ids(**distcache: object) -> set[str]:
    with override_settings(DISTCACHE={**settings.DISTCACHE, **distcache}):
        return {m.id for m in run_checks() if m.id in OUTAGE_CHECKS}


def test_default_outage_settings_pass():
    assert ids() == set()


@pytest.mark.parametrize("value", [0, -1, "1", True])
def test_redis_timeout_must_be_positive_or_none(value):
    assert ids(REDIS_TIMEOUT=value) == {"distcache.E060"}


def test_redis_timeout_none_keeps_the_cache_options():
    assert ids(REDIS_TIMEOUT=None) == set()


@pytest.mark.parametrize("value", [0, 1.5, "10", None])
def test_outbox_replay_limit_must_be_a_positive_whole_number(value):
    assert ids(OUTBOX_REPLAY_LIMIT=value) == {"distcache.E060"}


def test_a_beat_schedule_without_the_replay_task_is_a_warning():
    schedule = {k: v for k, v in BEAT_SCHEDULE.items() if k != "distcache-replay-invalidations"}
    with override_settings(CELERY_BEAT_SCHEDULE=schedule):
        assert ids() == {"distcache.W060"}


def test_the_apps_connections_get_short_timeouts_and_a_shorter_option_wins():
    from django_redis import get_redis_connection

    from django_distcache.redis.client import get_redis

    def timeouts(pool) -> tuple[object, object]:
        kwargs = pool.connection_kwargs
        return kwargs.get("socket_timeout"), kwargs.get("socket_connect_timeout")

    assert timeouts(get_redis().connection_pool) == (1.0, 1.0)
    # django-redis's own cache API keeps the project's OPTIONS (here none: no timeout)
    assert timeouts(get_redis_connection("default").connection_pool) == (None, None)
    location = f"{settings.REDIS_URL}/15"
    caches = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"SOCKET_TIMEOUT": 0.25, "SOCKET_CONNECT_TIMEOUT": 3},
        },
    }
    with override_settings(CACHES=caches):
        assert timeouts(get_redis().connection_pool) == (0.25, 1.0)
        with override_settings(DISTCACHE={**settings.DISTCACHE, "REDIS_TIMEOUT": None}):
            assert timeouts(get_redis().connection_pool) == (0.25, 3)
