"""Registrations found by autodiscovery, as a project would write them."""

import django_distcache
from tests.testapp.models import Category, Document, Product, Tag

django_distcache.register(Product, timeout=600, depends_on=[Category])
django_distcache.register(Category)
django_distcache.register(Tag)
django_distcache.register(Document)
