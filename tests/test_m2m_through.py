"""An entry that depends on a many-to-many through model is dropped by m2m changes."""

from __future__ import annotations

import pytest

import django_distcache
from tests.factories import ProductFactory, TagFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)
ProductTags = Product.tags.through


@django_distcache.cached(depends_on=[ProductTags])
def tag_links() -> int:
    return ProductTags.objects.count()


def test_adding_and_removing_links_invalidates_what_depends_on_the_through_model():
    product, tag = ProductFactory(), TagFactory()
    assert tag_links() == 0
    product.tags.add(tag)
    assert tag_links() == 1
    product.tags.remove(tag)
    assert tag_links() == 0
