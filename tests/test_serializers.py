"""The default codec: safe JSON that round-trips Django's common types, never pickle."""

import datetime
import decimal
import pickle
import uuid

import pytest

from django_distcache.serializers import JSONSerializer
from tests.factories import ProductFactory
from tests.testapp.models import Product


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"a": [1, 2.5, "x", True]},
        datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        datetime.date(2026, 1, 2),
        datetime.time(3, 4, 5),
        datetime.timedelta(days=1, seconds=2, microseconds=3),
        decimal.Decimal("1.10"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\xff",
        {1, 2},
        (1, "two", (3,)),
        [{"nested": (1, 2)}],
    ],
)
def test_round_trip(value):
    codec = JSONSerializer()
    assert codec.loads(codec.dumps(value)) == value
    assert type(codec.loads(codec.dumps(value))) is type(value)


def test_large_values_are_compressed():
    codec = JSONSerializer(compress_min_bytes=100)
    data = codec.dumps("a" * 10_000)
    assert data[:1] == b"Z"
    assert len(data) < 200
    assert codec.loads(data) == "a" * 10_000


def test_pickle_payloads_are_refused():
    codec = JSONSerializer()
    with pytest.raises(ValueError, match="unknown cache encoding"):
        codec.loads(pickle.dumps({"x": 1}))


def test_unsupported_types_say_what_to_do():
    with pytest.raises(TypeError, match="SERIALIZER"):
        JSONSerializer().dumps(object())


@pytest.mark.django_db
def test_model_instances_round_trip():
    product = ProductFactory()
    codec = JSONSerializer()
    (loaded,) = codec.loads(codec.dumps([product]))
    assert isinstance(loaded, Product)
    assert loaded.pk == product.pk
    assert loaded.price == product.price
    assert loaded._state.adding is False
