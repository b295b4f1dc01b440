"""get_or_set and @cached: hits are one round trip, arguments key the entries."""

import logging

import pytest
from django.db.models import F

import django_distcache
from django_distcache import keys
from django_distcache.redis.client import get_redis
from tests.factories import ProductFactory
from tests.testapp.models import Product

# Every test runs on one Redis and on a Redis Cluster.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


@django_distcache.cached(timeout=60, depends_on=[Product], tags=["listing"])
def product_names(prefix=""):
    return sorted(n for n in Product.objects.values_list("name", flat=True) if n.startswith(prefix))


def test_cached_hit_is_one_round_trip_and_no_query(round_trips, django_assert_num_queries):
    ProductFactory(name="apple")
    assert product_names("a") == ["apple"]
    round_trips.reset()
    with django_assert_num_queries(0):
        assert product_names("a") == ["apple"]
    assert round_trips.count == 1


def test_get_or_set_hit_is_one_round_trip(round_trips):
    assert django_distcache.get_or_set("answer", lambda: 42, tags=["a", "b"]) == 42
    round_trips.reset()
    assert django_distcache.get_or_set("answer", lambda: 0, tags=["a", "b"]) == 42
    assert round_trips.count == 1


def test_arguments_key_the_entries():
    ProductFactory(name="apple")
    ProductFactory(name="banana")
    assert product_names("a") == ["apple"]
    assert product_names("b") == ["banana"]
    assert product_names(prefix="b") == ["banana"]
    assert product_names() == ["apple", "banana"]


def test_model_instances_as_arguments_key_by_primary_key():
    calls = []

    @django_distcache.cached()
    def describe(product):
        calls.append(product.pk)
        return product.name

    first, second = ProductFactory.create_batch(2)
    assert describe(first) == first.name
    assert describe(Product.objects.get(pk=first.pk)) == first.name
    assert describe(second) == second.name
    assert calls == [first.pk, second.pk]


def test_none_is_a_value_that_is_cached():
    calls = []
    assert django_distcache.get_or_set("nothing", lambda: calls.append(1)) is None
    assert django_distcache.get_or_set("nothing", lambda: calls.append(1)) is None
    assert calls == [1]


def test_cached_methods_are_keyed_by_instance_arguments():
    class Report:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return f"Report({self.name})"

        @django_distcache.cached()
        def title(self, suffix):
            return f"{self.name}{suffix}"

    assert Report("a").title("!") == "a!"
    assert Report("b").title("!") == "b!"


def test_invalidate_rejects_a_dotted_name_that_is_no_model():
    with pytest.raises(LookupError, match="invalidate_tag"):
        django_distcache.invalidate("shop.Prodcut")


def test_unserializable_result_is_served_uncached_with_one_log_line(settings, caplog):
    settings.DISTCACHE = {**settings.DISTCACHE, "MAX_WAIT": 10, "LEASE_TIMEOUT": 30}
    odd = object()
    with caplog.at_level(logging.WARNING, logger="django_distcache"):
        assert django_distcache.get_or_set("odd", lambda: odd) is odd
    assert [r.getMessage() for r in caplog.records] == [
        "django_distcache served get_or_set uncached: django_distcache cannot cache a value "
        "of type object; return JSON-compatible data, model instances, querysets, dates, "
        "decimals or UUIDs, or set DISTCACHE['SERIALIZER'] to a codec that handles it."
    ]
    assert not get_redis().exists(keys.lease_key(keys.entry_base("key", "get_or_set", "odd")))
    assert django_distcache.get_or_set("odd", lambda: "fine") == "fine"


def test_spellings_of_one_call_are_one_entry_and_invalidate_alike():
    calls = []

    @django_distcache.cached()
    def price(product_id, currency="EUR", *, rounded=False):
        calls.append((product_id, currency, rounded))
        return len(calls)

    assert price(1) == 1
    assert price(1, "EUR") == 1
    assert price(product_id=1, currency="EUR", rounded=False) == 1
    assert price(1, rounded=True) == 2
    price.invalidate(product_id=1, currency="EUR")
    assert price(1) == 3
    assert price(1, rounded=True) == 2


class Catalogue:
    calls = []

    def __init__(self, region):
        self.region = region

    def __repr__(self):
        return f"Catalogue({self.region!r})"

    @django_distcache.cached()
    def count(self, kind):
        self.calls.append(("count", self.region, kind))
        return len(self.calls)

    @django_distcache.cached()
    @classmethod
    def label(cls, kind):
        cls.calls.append(("label", kind))
        return len(cls.calls)

    @django_distcache.cached()
    @staticmethod
    def code(kind):
        Catalogue.calls.append(("code", kind))
        return len(Catalogue.calls)


def test_methods_classmethods_and_staticmethods_are_cached_and_invalidated():
    Catalogue.calls.clear()
    eu = Catalogue("eu")
    assert eu.count("a") == eu.count("a") == Catalogue("eu").count(kind="a") == 1
    assert Catalogue("us").count("a") == 2
    assert Catalogue.label("a") == eu.label(kind="a") == 3
    assert Catalogue.code("a") == eu.code("a") == 4
    eu.count.invalidate(kind="a")
    Catalogue.label.invalidate("a")
    Catalogue.code.invalidate(kind="a")
    assert (eu.count("a"), Catalogue.label("a"), Catalogue.code("a")) == (5, 6, 7)
    assert Catalogue("us").count("a") == 2


class NoRepr:
    pass


@pytest.mark.parametrize(
    ("argument", "why"),
    [
        (NoRepr(), "its repr shows its address"),
        (Product(name="unsaved"), "an unsaved model instance"),
        (lambda: 1, "a lambda or local function"),
    ],
)
def test_arguments_without_a_stable_identity_are_refused_by_name(argument, why):
    @django_distcache.cached()
    def use(first, other):
        return 1

    with pytest.raises(TypeError, match=f"argument 'other' \\({why}"):
        use(1, argument)
    with pytest.raises(TypeError, match="argument 'other'"):
        use.invalidate(1, other=argument)


def test_a_key_function_keys_calls_with_unstable_arguments():
    calls = []

    @django_distcache.cached(key=lambda session, page: page)
    def render(session, page):
        calls.append(page)
        return f"page {page}"

    assert render(NoRepr(), 1) == render(NoRepr(), 1) == "page 1"
    assert calls == [1]
    render.invalidate(NoRepr(), 1)
    assert render(NoRepr(), 1) == "page 1"
    assert calls == [1, 1]


def test_hit_returns_what_the_miss_returned():
    ProductFactory(name="apple", stock=3)

    @django_distcache.cached()
    def annotated():
        return list(Product.objects.annotate(double=F("stock") * 2).defer("attributes"))

    (miss,) = annotated()
    (hit,) = annotated()
    for product in (miss, hit):
        assert (product.name, product.double, product.get_deferred_fields()) == (
            "apple",
            6,
            {"attributes"},
        )


def test_timeout_none_never_expires_and_zero_stores_nothing():
    assert django_distcache.get_or_set("forever", lambda: 1, timeout=None) == 1
    forever = keys.entry_base("key", "get_or_set", "forever")
    assert get_redis().pttl(forever) == -1  # stored, no expiry
    calls = []
    assert django_distcache.get_or_set("never", lambda: calls.append(1) or 2, timeout=0) == 2
    assert django_distcache.get_or_set("never", lambda: calls.append(1) or 2, timeout=0) == 2
    assert calls == [1, 1]
    assert django_distcache.get_or_set("default", lambda: 3) == 3
    default = keys.entry_base("key", "get_or_set", "default")
    assert 0 < get_redis().pttl(default) <= 300_000


def test_a_call_passing_every_argument_by_position_keys_like_any_spelling():
    calls = []

    @django_distcache.cached()
    def price(product_id, currency="EUR"):
        calls.append((product_id, currency))
        return len(calls)

    assert price(1, "EUR") == 1
    assert price(1) == 1
    assert price(product_id=1, currency="EUR") == 1
    assert price(1, currency="EUR") == 1
    assert price("1", "EUR") == 2  # another argument: "1" is not 1
    assert price(True, "EUR") == 3  # nor is True
    assert price.base((1, "EUR"), {}) == price.base((), {"product_id": 1})
    price.invalidate(1, "EUR")
    assert price(product_id=1) == 4


def test_a_remembered_key_follows_the_key_prefix(settings):
    @django_distcache.cached()
    def double(n):
        return 2 * n

    before = double.base((1,), {})
    settings.DISTCACHE = {**settings.DISTCACHE, "KEY_PREFIX": "elsewhere"}
    after = double.base((1,), {})
    assert before != after
    assert after.startswith("elsewhere")
