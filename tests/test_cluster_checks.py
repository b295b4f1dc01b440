"""System checks of Redis Cluster use: Celery's broker and result backend cannot be one."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.checks import ERROR, run_checks

import django_distcache
from django_distcache import registry
from tests.celery_app import app
from tests.cluster import free_port
from tests.testapp.models import Category

BACKEND = "django_distcache.redis.cluster.RedisClusterCache"


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


@pytest.fixture
def celery_urls():
    """Set Celery's broker and result backend URLs for one test."""
    saved = app.conf.broker_url, app.conf.result_backend

    def use(broker: str, result_backend: str | None = None) -> None:
        app.conf.broker_url = broker
        app.conf.result_backend = result_backend or saved[1]

    yield use
    app.conf.broker_url, app.conf.result_backend = saved


def test_default_test_settings_pass():
    assert not {i for i in check_ids() if i.startswith("distcache.E03")}


def test_broker_on_a_cluster_node_is_an_error(redis_cluster, celery_urls):
    celery_urls(f"redis://{redis_cluster.nodes[1].address}/0")
    messages = [m for m in run_checks() if m.id == "distcache.E030"]
    assert len(messages) == 1
    assert redis_cluster.nodes[1].address in messages[0].msg
    assert "broker_url" in messages[0].msg


def test_result_backend_on_a_cluster_node_is_an_error(redis_cluster, celery_urls):
    celery_urls(settings.CELERY_BROKER_URL, f"redis://{redis_cluster.nodes[0].address}")
    assert {"distcache.E031"} <= check_ids()
    assert "distcache.E030" not in check_ids()


def test_broker_named_as_a_cluster_cache_node_is_an_error_even_when_unreachable(
    settings, celery_urls
):
    # The cluster is down (nothing listens): the setting alone says the broker is a node.
    first, second = free_port(), free_port()
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {
            "BACKEND": BACKEND,
            "LOCATION": f"redis://127.0.0.1:{first},redis://127.0.0.1:{second}",
        },
    }
    celery_urls(f"redis://127.0.0.1:{second}/0")
    assert "distcache.E030" in check_ids()


def test_failover_broker_urls_are_each_checked(redis_cluster, celery_urls):
    celery_urls(f"{settings.CELERY_BROKER_URL};redis://{redis_cluster.nodes[2].address}")
    assert "distcache.E030" in check_ids()


def test_broker_on_a_plain_redis_passes(redis_process, celery_urls):
    celery_urls(redis_process().url)
    assert "distcache.E030" not in check_ids()


def test_non_redis_broker_passes(celery_urls):
    celery_urls("amqp://guest:guest@127.0.0.1:5672//")
    assert "distcache.E030" not in check_ids()


@pytest.mark.parametrize("setting", ["CACHE_ALIAS", "WRITE_BEHIND_CACHE_ALIAS"])
def test_write_behind_on_a_cluster_cache_passes(settings, setting, redis_cluster):
    assert registry.write_behind_models()  # the test app's write-behind models
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": redis_cluster.url},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, setting: "cluster"}
    assert not [m for m in run_checks() if m.level >= ERROR]


def test_app_entries_on_a_cluster_cache_pass_without_write_behind(settings, redis_cluster):
    for model in registry.write_behind_models():
        django_distcache.register(model)  # registered again, without write-behind
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": redis_cluster.url},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_ALIAS": "cluster"}
    ids = check_ids()
    assert "distcache.E032" not in ids


def test_near_cache_on_a_cluster_cache_passes(settings, redis_cluster):
    for model in registry.write_behind_models():
        django_distcache.register(model)
    django_distcache.register(Category, near_cache=True)
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": redis_cluster.url},
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_ALIAS": "cluster"}
    assert not [m for m in run_checks() if m.level >= ERROR]


def test_a_cluster_cache_beside_the_apps_cache_passes(settings, redis_cluster):
    settings.CACHES = {
        **settings.CACHES,
        "cluster": {"BACKEND": BACKEND, "LOCATION": redis_cluster.url},
    }
    assert "distcache.E032" not in check_ids()
