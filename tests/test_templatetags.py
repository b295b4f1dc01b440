"""{% distcache %}: template fragments cached until a model or tag they depend on changes."""

from __future__ import annotations

import pytest
from django.template import Context, Template, TemplateSyntaxError

import django_distcache
from tests.factories import CategoryFactory, ProductFactory
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)

FRAGMENT = Template(
    "{% load distcache %}"
    '{% distcache "product-list" category.pk depends_on="testapp.Product" tags="menu" %}'
    "{% for p in products %}{{ p.name }};{% endfor %}"
    "{% enddistcache %}"
)


def render(category, counter: list[int]) -> str:
    def products():
        counter.append(1)
        return Product.objects.filter(category=category).order_by("name")

    return FRAGMENT.render(Context({"category": category, "products": products}))


def test_fragment_is_rendered_once_then_served(django_assert_num_queries):
    category = CategoryFactory()
    ProductFactory(name="Lamp", category=category)
    calls: list[int] = []
    assert render(category, calls) == "Lamp;"
    with django_assert_num_queries(0):
        assert render(category, calls) == "Lamp;"
    assert len(calls) == 1


def test_a_committed_write_renders_it_again():
    category = CategoryFactory()
    product = ProductFactory(name="Lamp", category=category)
    calls: list[int] = []
    render(category, calls)
    product.name = "Desk lamp"
    product.save()
    assert render(category, calls) == "Desk lamp;"
    django_distcache.invalidate("menu")
    assert render(category, calls) == "Desk lamp;"
    assert len(calls) == 3


def test_vary_on_values_are_separate_fragments():
    first, second = CategoryFactory(), CategoryFactory()
    ProductFactory(name="Lamp", category=first)
    ProductFactory(name="Chair", category=second)
    calls: list[int] = []
    assert render(first, calls) == "Lamp;"
    assert render(second, calls) == "Chair;"
    assert render(first, calls) == "Lamp;"
    assert len(calls) == 2


def test_output_is_escaped_once(raw_redis):
    template = Template(
        '{% load distcache %}{% distcache "escaped" depends_on="testapp.Product" %}'
        "{{ text }}{% enddistcache %}"
    )
    assert template.render(Context({"text": "<b>"})) == "&lt;b&gt;"
    assert template.render(Context({"text": "<i>"})) == "&lt;b&gt;"


def test_timeout_sets_the_entry_ttl(raw_redis):
    template = Template('{% load distcache %}{% distcache "short" timeout=30 %}x{% enddistcache %}')
    template.render(Context())
    (key,) = [k for k in raw_redis.scan_iter(match="*:tpl:fragment.short:*") if b"lease" not in k]
    assert 0 < raw_redis.pttl(key) <= 30_000


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% distcache %}{% enddistcache %}", "needs a fragment name"),
        ('{% distcache "a" expires=3 %}{% enddistcache %}', "has no option 'expires'"),
    ],
)
def test_syntax_errors_say_what_is_valid(source, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        Template("{% load distcache %}" + source)
