"""System checks of write-behind: eviction policy, visibility timeout, settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

from tests.celery_app import app


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


def test_default_test_settings_pass():
    assert not {i for i in check_ids() if i.startswith("distcache.")}


def _buffer_on(url: str) -> dict:
    caches = {
        **settings.CACHES,
        "buffer": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url},
    }
    return {"CACHES": caches, "DISTCACHE": {"WRITE_BEHIND_CACHE_ALIAS": "buffer"}}


def test_buffer_on_an_allkeys_evicting_redis_is_an_error(redis_process):
    server = redis_process("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    with override_settings(**_buffer_on(server.url)):
        assert "distcache.E010" in check_ids()


def test_buffer_on_a_noeviction_redis_passes(redis_process):
    server = redis_process("--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    with override_settings(**_buffer_on(server.url)):
        assert "distcache.E010" not in check_ids()


def test_unknown_buffer_alias_is_an_error():
    with override_settings(DISTCACHE={"WRITE_BEHIND_CACHE_ALIAS": "nope"}):
        assert "distcache.E011" in check_ids()


@pytest.mark.parametrize(
    "bad",
    [
        {"WRITE_BEHIND_BATCH_SIZE": 0},
        {"WRITE_BEHIND_OVERFLOW": "drop"},
        {"WRITE_BEHIND_MAX_PENDING": -1},
        {"WRITE_BEHIND_QUEUE": ""},
    ],
)
def test_bad_write_behind_settings_are_errors(bad):
    with override_settings(DISTCACHE=bad):
        assert "distcache.E012" in check_ids()


def test_unimportable_warmer_is_an_error():
    with override_settings(DISTCACHE={"WARMERS": {"x": "no.such.function"}}):
        assert "distcache.E013" in check_ids()


def test_short_visibility_timeout_warns():
    options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {"visibility_timeout": 10}
    try:
        assert "distcache.W010" in check_ids()
    finally:
        app.conf.broker_transport_options = options
    assert "distcache.W010" not in check_ids()


@pytest.fixture
def rabbitmq_broker():
    """The project's Celery app on RabbitMQ (its configuration only: nothing is sent)."""
    saved = (app.conf.broker_url, app.conf.task_queues)
    app.conf.broker_url = "amqp://guest:guest@127.0.0.1:5672//"
    yield app
    app.conf.broker_url, app.conf.task_queues = saved


def _distcache_queue(consumer_timeout_ms: int):
    from kombu import Queue

    return [Queue("distcache", queue_arguments={"x-consumer-timeout": consumer_timeout_ms})]


def test_rabbitmq_consumer_timeout_shorter_than_a_flush_warns(rabbitmq_broker):
    rabbitmq_broker.conf.task_queues = _distcache_queue(10_000)
    [warning] = [m for m in run_checks() if m.id == "distcache.W010"]
    assert "consumer_timeout" in warning.msg
    assert "visibility_timeout" not in warning.msg


def test_rabbitmq_default_consumer_timeout_passes(rabbitmq_broker):
    # RabbitMQ's default consumer_timeout (30 minutes) outlasts a flush; Redis's
    # visibility_timeout does not apply to it, however short.
    options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {"visibility_timeout": 10}
    try:
        assert "distcache.W010" not in check_ids()
        rabbitmq_broker.conf.task_queues = _distcache_queue(3_600_000)
        assert "distcache.W010" not in check_ids()
    finally:
        app.conf.broker_transport_options = options


def test_w010_reads_the_projects_celery_app_not_a_later_default():
    from celery import Celery

    options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {"visibility_timeout": 10}
    other = Celery("unconfigured", set_as_current=True)
    try:
        assert "distcache.W010" in check_ids()
    finally:
        app.set_current()
        app.conf.broker_transport_options = options
        other.close()
