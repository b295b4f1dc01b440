"""Each system check fires on the bad setting it names, and only then."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

GOOD_CACHES = {
    "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"},
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}


def check_ids(**distcache):
    with override_settings(DISTCACHE={"KEY_PREFIX": "dctest", **distcache}):
        return sorted({e.id for e in run_checks() if e.id.startswith("distcache.")})


def test_good_settings_pass():
    assert check_ids() == []


def test_e001_unknown_key():
    assert check_ids(TIMEOUTS=3) == ["distcache.E001"]


def test_e001_not_a_dict():
    with override_settings(DISTCACHE=["TIMEOUT"]):
        assert {e.id for e in run_checks()} >= {"distcache.E001"}


def test_e002_unknown_cache_alias():
    assert check_ids(CACHE_ALIAS="nope") == ["distcache.E002"]


def test_e003_cache_not_redis():
    assert check_ids(CACHE_ALIAS="local") == ["distcache.E003"]


@pytest.mark.parametrize(
    "setting",
    [
        {"TIMEOUT": 0},
        {"TIMEOUT": -5},
        {"TIMEOUT": "300"},
        {"MISSING_TIMEOUT": None},
        {"LEASE_TIMEOUT": 0},
        {"MAX_WAIT": True},
        {"TIMEOUT_JITTER": 1.5},
        {"MODELS": {"testapp.Product": {"timeout": 0}}},
    ],
)
def test_e004_nonsense_timeouts(setting):
    assert check_ids(**setting) == ["distcache.E004"]


@pytest.mark.parametrize(
    "models",
    [
        {"testapp.Nope": {}},
        {"nolabel": {}},
        {"testapp.Product": {"depends_on": ["shop.Missing"]}},
        {"testapp.Product": {"timeout": 5, "ttl": 5}},
        ["testapp.Product"],
    ],
)
def test_e005_unknown_models_or_options(models):
    assert check_ids(MODELS=models) == ["distcache.E005"]


def test_e005_accepts_known_models():
    assert check_ids(MODELS={"testapp.Uncached": {"depends_on": ["testapp.Category"]}}) == []


def test_e006_serializer_not_importable():
    assert check_ids(SERIALIZER="nowhere.Codec") == ["distcache.E006"]


@pytest.mark.parametrize(
    "setting",
    [
        {"KEY_PREFIX": ""},
        {"KEY_PREFIX": "has space"},
        {"SCHEMA_VERSION": "2"},
        {"MAX_KEY_LENGTH": 10},
    ],
)
def test_e007_bad_keys(setting):
    assert check_ids(**setting) == ["distcache.E007"]


def test_check_error_messages_name_the_setting():
    with override_settings(DISTCACHE={"TIMEOUT": -1}):
        (error,) = [e for e in run_checks() if e.id == "distcache.E004"]
    assert "DISTCACHE['TIMEOUT']" in error.msg


def _manage_check(database: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "manage.py"), "check"],
        env={**os.environ, "DISTCACHE_TEST_DATABASE": database},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_w011_write_behind_models_off_postgresql_are_warned_about():
    on_sqlite = _manage_check("sqlite")
    assert on_sqlite.returncode == 0, on_sqlite.stderr  # a warning, not an error
    warned = sorted(set(re.findall(r"\?: \((distcache\.W011)\) (testapp\.\w+)", on_sqlite.stderr)))
    # the write-behind models of tests/testapp/distcache.py, not Category
    assert [label for _id, label in warned] == [
        "testapp.Document",
        "testapp.Product",
        "testapp.Tag",
    ]
    assert "Exactly-once increments need PostgreSQL" in on_sqlite.stderr
    on_postgresql = _manage_check("postgresql")
    assert on_postgresql.returncode == 0, on_postgresql.stderr
    assert "distcache.W011" not in on_postgresql.stderr
