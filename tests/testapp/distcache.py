"""Registrations and warmers found by autodiscovery, as a project would write them."""

import django_distcache
from tests.testapp.models import Category, Document, Product, Tag

django_distcache.register(Product, timeout=600, depends_on=[Category], write_behind=True)
django_distcache.register(Category)
django_distcache.register(Tag, write_behind=True)
django_distcache.register(Document, write_behind=True)


@django_distcache.warmer("products")
def products():
    return Product.objects.order_by("pk")


@django_distcache.warmer("categories")
def categories():
    return [(Category, pk) for pk in Category.objects.values_list("pk", flat=True)]


@django_distcache.warmer("slow")
def slow():
    """A warmer that takes a moment, so its task's progress can be watched."""
    import time

    time.sleep(1.0)
    return []


@django_distcache.warmer("broken")
def broken():
    raise RuntimeError("the warmer's query failed")
