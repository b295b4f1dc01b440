"""Above WRITE_BEHIND_MAX_PENDING rows, write_behind() of absolute values saves at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

import django_distcache
from django_distcache.writebehind import backlog
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WRITE_BEHIND_MAX_PENDING": 1})
def test_a_full_buffer_saves_the_named_fields_through_by_default():
    buffered, overflowing = ProductFactory.create_batch(2, price=Decimal("1.00"))
    buffered.price = Decimal("2.00")
    django_distcache.write_behind(buffered, fields=["price"])
    overflowing.price, overflowing.name = Decimal("3.00"), "not saved"
    django_distcache.write_behind(overflowing, fields=["price"])
    saved = Product.objects.get(pk=overflowing.pk)
    assert saved.price == Decimal("3.00")
    assert saved.name != "not saved"  # only the named fields
    assert Product.objects.get(pk=buffered.pk).price == Decimal("1.00")  # still buffered
    assert backlog()[0]["pending"] == 1
    assert django_distcache.get_object(Product, overflowing.pk).price == Decimal("3.00")
