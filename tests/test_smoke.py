import pytest

import django_distcache
from tests.factories import ProductFactory
from tests.testapp.models import Product


@pytest.mark.django_db(transaction=True)
def test_get_object_hit_after_first_read(django_assert_num_queries):
    product = ProductFactory()
    with django_assert_num_queries(1):
        assert django_distcache.get_object(Product, product.pk).name == product.name
    with django_assert_num_queries(0):
        cached = django_distcache.get_object(Product, product.pk)
    assert cached.price == product.price
    assert cached.attributes == {"colour": "red"}
