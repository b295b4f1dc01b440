"""The default codec: safe JSON that round-trips Django's common types, never pickle."""

import datetime
import decimal
import pickle
import uuid
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "value",
    [
        {"__dc": "dt", "v": "2026-01-02T03:04:05"},  # user data that looks like a tag
        {"__dc": "m", "m": "testapp.product", "f": [], "v": []},
        {1: "one", "1": "string one", (2, 3): "tuple key", None: 0, frozenset({4}): "set"},
        [(1, 2), [1, 2]],
        [decimal.Decimal("1.5"), 1.5],
        frozenset({1, (2, 3)}),
        {"nested": {"__dc": "tup", "v": [1]}},
        bytearray(b"\x01"),
    ],
)
def test_user_data_is_never_read_back_as_something_else(value):
    codec = JSONSerializer()
    assert_same(codec.loads(codec.dumps(value)), value)


def assert_same(got, expected):
    """Equal, and of the same type at every level."""
    assert type(got) is type(expected), (got, expected)
    assert got == expected
    if isinstance(expected, (list, tuple)):
        for g, e in zip(got, expected, strict=True):
            assert_same(g, e)
    elif isinstance(expected, dict):
        for key in expected:
            assert_same(got[key], expected[key])


def test_aware_datetimes_keep_their_zone():
    paris = datetime.datetime(2026, 3, 29, 1, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    codec = JSONSerializer()
    loaded = codec.loads(codec.dumps(paris))
    assert loaded == paris
    assert loaded.tzinfo == paris.tzinfo
    # arithmetic across the DST change agrees with the original
    assert (loaded + datetime.timedelta(hours=1)).utcoffset() == (
        paris + datetime.timedelta(hours=1)
    ).utcoffset()


@pytest.mark.django_db
def test_json_field_content_with_the_tag_key_round_trips():
    product = ProductFactory(attributes={"__dc": "uuid", "v": "not a uuid", "k": [1, 2]})
    codec = JSONSerializer()
    (loaded,) = codec.loads(codec.dumps([product]))
    assert loaded.attributes == {"__dc": "uuid", "v": "not a uuid", "k": [1, 2]}


@pytest.mark.django_db
def test_annotated_and_deferred_instances_are_kept_exactly():
    from django.db.models import F

    ProductFactory(name="kept", stock=3)
    product = Product.objects.annotate(double=F("stock") * 2).defer("attributes").get()
    codec = JSONSerializer()
    loaded = codec.loads(codec.dumps(product))
    assert loaded.double == 6
    assert loaded.get_deferred_fields() == {"attributes"}
    assert (loaded.pk, loaded.name, loaded.stock) == (product.pk, "kept", 3)


@pytest.mark.django_db
def test_instances_with_prefetched_relations_are_refused_by_name():
    ProductFactory()
    product = Product.objects.prefetch_related("tags").get()
    with pytest.raises(TypeError, match="prefetched relations \\(tags\\)"):
        JSONSerializer().dumps(product)


def test_unknown_tags_are_an_error_not_a_dict():
    with pytest.raises(ValueError, match="unknown tag"):
        JSONSerializer().loads(b'J{"__dc":"nope","v":1}')


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.datetimes(timezones=st.none() | st.timezones())
)
HASHABLE = st.recursive(
    SCALARS,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=5,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.sets(HASHABLE, max_size=3)
        | st.frozensets(HASHABLE, max_size=3)
        | st.dictionaries(st.text() | st.sampled_from(["__dc", "v", "m"]), inner, max_size=4)
        | st.dictionaries(HASHABLE, inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_everything_supported_round_trips_type_for_type(value):
    codec = JSONSerializer(compress_min_bytes=64)
    assert_same(codec.loads(codec.dumps(value)), value)
