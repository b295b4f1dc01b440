"""A cache hit returns the object a miss returns, or a system check says why it cannot."""

import logging

import pytest
from django.core.checks import run_checks
from django.db import models
from django.db.models.signals import post_init

import django_distcache
from tests.factories import ProductFactory
from tests.testapp.models import Category, Product

pytestmark = pytest.mark.django_db(transaction=True)


def read_twice(pk):
    """The miss, then the hit."""
    return django_distcache.get_object(Product, pk), django_distcache.get_object(Product, pk)


def test_post_init_receivers_run_on_a_hit_too():
    def mark(sender, instance, **kwargs):
        instance.marked = instance.name.upper()

    post_init.connect(mark, sender=Product, dispatch_uid="test-mark")
    try:
        product = ProductFactory(name="lamp")
        miss, hit = read_twice(product.pk)
    finally:
        post_init.disconnect(dispatch_uid="test-mark", sender=Product)
    assert miss.marked == hit.marked == "LAMP"


def test_a_custom_init_runs_on_a_hit_too(monkeypatch):
    original = Product.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.greeting = "hello"

    monkeypatch.setattr(Product, "__init__", init)
    product = ProductFactory()
    miss, hit = read_twice(product.pk)
    assert miss.greeting == hit.greeting == "hello"


def test_a_from_db_override_runs_on_a_hit_too(monkeypatch):
    def from_db(cls, db, field_names, values):
        instance = models.Model.from_db.__func__(cls, db, field_names, values)
        instance.loaded_from = db
        return instance

    monkeypatch.setattr(Product, "from_db", classmethod(from_db))
    product = ProductFactory()
    miss, hit = read_twice(product.pk)
    assert miss.loaded_from == hit.loaded_from == "default"


class DeferringManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().defer("name").annotate(twice=models.F("pk") * 2)


def deferring_manager(model):
    manager = DeferringManager()
    manager.model = model
    return manager


def test_a_default_manager_that_defers_or_annotates_is_an_error(monkeypatch):
    monkeypatch.setattr(Category._meta, "default_manager", deferring_manager(Category))
    errors = [m for m in run_checks() if m.id == "distcache.E040"]
    assert len(errors) == 1
    assert "testapp.Category" in errors[0].msg
    assert "'twice', 'name'" in errors[0].msg


def test_a_field_the_codec_may_not_encode_is_named(monkeypatch):
    field = Category._meta.get_field("name")
    monkeypatch.setattr(field, "get_internal_type", lambda: "DateRangeField")
    warnings = [m for m in run_checks() if m.id == "distcache.W040"]
    assert [w.msg.split(",")[0] for w in warnings] == ["testapp.Category.name is a DateRangeField"]


def test_an_object_that_cannot_be_encoded_is_served_uncached(monkeypatch, caplog):
    category = Category.objects.create(name="kept")
    monkeypatch.setattr(Category._meta, "default_manager", deferring_manager(Category))
    with caplog.at_level(logging.WARNING, logger="django_distcache"):
        first = django_distcache.get_object(Category, category.pk)
        second = django_distcache.get_object(Category, category.pk)
    assert first.name == second.name == "kept"
    assert len(caplog.records) == 2
    assert "served testapp.category uncached" in caplog.records[0].getMessage()
