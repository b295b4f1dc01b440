"""System checks and argument errors of early refresh, stale-while-revalidate and sliding."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

import django_distcache
from tests.testapp.models import Category

REFRESH_CHECKS = {"distcache.E070", "distcache.W070"}


def ids(**distcache: object) -> set[str]:
    with override_settings(DISTCACHE={**settings.DISTCACHE, **distcache}):
        return {m.id for m in run_checks() if m.id in REFRESH_CHECKS}


def test_default_refresh_settings_pass():
    assert ids() == set()


@pytest.mark.parametrize(
    "bad",
    [
        {"EARLY_REFRESH_BETA": -1},
        {"EARLY_REFRESH_BETA": "1"},
        {"STALE_WHILE_REVALIDATE": -5},
        {"STALE_WHILE_REVALIDATE": True},
        {"REFRESH_IN": "worker"},
        {"SLIDING": "yes"},
        {"SLIDING_MAX_AGE": 0},
        {"SLIDING_MAX_AGE": None},
        {"MODELS": {"testapp.Category": {"stale_while_revalidate": -1}}},
        {"MODELS": {"testapp.Category": {"sliding": 1}}},
    ],
)
def test_a_bad_value_is_an_error(bad):
    assert ids(**bad) == {"distcache.E070"}


@pytest.mark.parametrize(
    "good",
    [
        {"EARLY_REFRESH_BETA": 0},
        {"EARLY_REFRESH_BETA": 2.5},
        {"STALE_WHILE_REVALIDATE": 30},
        {"REFRESH_IN": "thread"},
        {"REFRESH_IN": "celery"},
        {"SLIDING": True, "SLIDING_MAX_AGE": 7200},
        {"MODELS": {"testapp.Category": {"stale_while_revalidate": 10, "sliding": True}}},
    ],
)
def test_good_values_pass(good):
    assert ids(**good) == set()


def test_a_sliding_model_whose_timeout_reaches_the_max_age_is_a_warning():
    django_distcache.register(Category, timeout=3600, sliding=True)
    assert ids() == {"distcache.W070"}  # SLIDING_MAX_AGE is 3600: it would never slide
    assert ids(SLIDING_MAX_AGE=7200) == set()


@pytest.mark.parametrize(
    "options", [{"stale_while_revalidate": -1}, {"stale_while_revalidate": "30"}, {"sliding": 1}]
)
def test_bad_arguments_are_refused_where_they_are_given(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        django_distcache.register(Category, **options)
    with pytest.raises(ValueError, match=next(iter(options))):
        django_distcache.cached(**options)(lambda: 1)


@pytest.mark.django_db(transaction=True)
def test_reads_go_on_with_bad_settings(settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "EARLY_REFRESH_BETA": "high",
        "STALE_WHILE_REVALIDATE": "a minute",
        "SLIDING": True,
        "SLIDING_MAX_AGE": None,
    }
    assert django_distcache.get_or_set("odd settings", lambda: "loaded") == "loaded"
    assert django_distcache.get_or_set("odd settings", lambda: "again") == "loaded"
