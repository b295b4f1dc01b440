"""get_or_set and @cached: hits are one round trip, arguments key the entries."""

import pytest

import django_distcache
from tests.factories import ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_unserializable_result_gives_a_clear_error_and_releases_the_lease(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "MAX_WAIT": 10, "LEASE_TIMEOUT": 30}
    with pytest.raises(TypeError, match="cannot cache a value of type object"):
        django_distcache.get_or_set("odd", object)
    assert django_distcache.get_or_set("odd", lambda: "fine") == "fine"
