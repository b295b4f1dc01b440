"""Models are registered by register(), autodiscovered distcache.py modules, or settings."""

import pytest
from django.test import override_settings

import django_distcache
from django_distcache import registry
from django_distcache.conf import get_settings
from tests.testapp.models import Category, Product, Uncached


def test_autodiscovered_registrations():
    config = registry.get_config(Product)
    assert config.timeout == 600
    assert config.depends_on == (Category,)
    assert set(config.generation_keys) == {
        "dctest:gen:objects:testapp.product",
        "dctest:gen:model:testapp.category",
    }


def test_register_from_settings():
    saved = dict(registry._configs)
    try:
        with override_settings(
            DISTCACHE={
                "MODELS": {"testapp.Uncached": {"timeout": 30, "depends_on": ["testapp.Tag"]}}
            }
        ):
            registry.register_from_settings()
            config = registry.get_config(Uncached)
            assert config.timeout == 30
            assert config.depends_on[0]._meta.label == "testapp.Tag"
    finally:
        registry._configs.clear()
        registry._configs.update(saved)


def test_register_rejects_what_is_not_a_model():
    with pytest.raises(LookupError, match=r"app_label\.ModelName"):
        django_distcache.register("testapp.Missing")
    with pytest.raises(TypeError, match="model class"):
        django_distcache.register(42)


def test_settings_object_names_valid_settings_on_a_typo():
    with pytest.raises(AttributeError, match="valid settings are"):
        get_settings().TIMEOUTS  # noqa: B018


def test_settings_follow_override_settings():
    with override_settings(DISTCACHE={"TIMEOUT": 12}):
        assert get_settings().TIMEOUT == 12
    assert get_settings().TIMEOUT == 300
