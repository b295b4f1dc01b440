"""The cache dashboard through Django's test client: content, permissions, CSRF, actions."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import reverse

import django_distcache
from django_distcache import stats
from tests.cache_override import cache_on
from tests.factories import ProductFactory
from tests.testapp.models import Product

DASHBOARD = "admin:django_distcache_dashboard_changelist"
INVALIDATE = "admin:django_distcache_dashboard_invalidate"
pytestmark = pytest.mark.django_db(transaction=True)


def _staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_distcache", codename=codename)
        )
    return user


def _client(user: User, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def viewer() -> Client:
    return _client(_staff("viewer", "view_dashboard"))


@pytest.fixture
def operator() -> Client:
    return _client(_staff("operator", "view_dashboard", "change_dashboard"))


def _known_workload() -> Product:
    product = ProductFactory()
    for _ in range(4):
        django_distcache.get_object(Product, product.pk)  # 1 miss, 3 hits
    for pk in (10_001, 10_002):
        with pytest.raises(Product.DoesNotExist):
            django_distcache.get_object(Product, pk)  # 2 misses
    return product


def test_dashboard_is_listed_on_the_admin_index_for_viewers(viewer):
    response = viewer.get(reverse("admin:index"))
    assert response.status_code == 200
    assert reverse(DASHBOARD).encode() in response.content
    assert b"Cache dashboard" in response.content


@pytest.mark.usefixtures("app_cache")
def test_dashboard_shows_the_numbers_of_a_known_workload(viewer):
    _known_workload()
    response = viewer.get(reverse(DASHBOARD))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<p class="distcache-figure" id="overall-hit-rate">50.0%</p>' in page
    assert '<span id="overall-hits">3</span> hits' in page
    assert '<span id="overall-misses">3</span> misses' in page
    row = page[page.index('data-namespace="testapp.product"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="hits">3</td>' in row
    assert '<td class="misses">3</td>' in row
    assert '<td class="loads">3</td>' in row
    assert '<td class="sets">3</td>' in row
    assert "Latency percentiles" in page
    assert "127.0.0.1:" in page  # the Redis node, without credentials


def test_dashboard_warns_of_a_low_hit_rate_with_its_reason(viewer):
    _known_workload()
    with override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "HEALTH_MIN_READS": 5}):
        page = viewer.get(reverse(DASHBOARD)).content.decode()
    assert 'id="health-warnings"' in page
    assert "Overall: hit rate 50.0% is below 80.0% (3 hits, 3 misses)." in page


def test_staff_without_view_permission_is_refused(client):
    client.force_login(_staff("nobody"))
    assert client.get(reverse(DASHBOARD)).status_code == 403
    assert reverse(DASHBOARD).encode() not in client.get(reverse("admin:index")).content


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client):
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    user = User.objects.create_user("customer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(user)
    assert client.get(reverse(DASHBOARD)).status_code == 302


def test_viewer_sees_no_action_forms_and_cannot_post_them(viewer):
    page = viewer.get(reverse(DASHBOARD)).content.decode()
    assert 'id="invalidate-form"' not in page
    response = viewer.post(reverse(INVALIDATE), {"namespace": "testapp.product"})
    assert response.status_code == 403


def test_actions_are_post_only(operator):
    assert operator.get(reverse(INVALIDATE)).status_code == 405


def test_actions_need_the_csrf_token():
    client = _client(
        _staff("operator", "view_dashboard", "change_dashboard"), enforce_csrf_checks=True
    )
    response = client.post(reverse(INVALIDATE), {"namespace": "testapp.product"})
    assert response.status_code == 403
    page = client.get(reverse(DASHBOARD)).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(
        reverse(INVALIDATE), {"namespace": "testapp.product", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


@pytest.mark.usefixtures("app_cache")
def test_invalidate_a_model_namespace_drops_its_entries(
    operator, django_assert_num_queries, caplog
):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    with django_assert_num_queries(0):
        django_distcache.get_object(Product, product.pk)
    with caplog.at_level(logging.INFO, logger="django_distcache"):
        response = operator.post(reverse(INVALIDATE), {"namespace": "testapp.product"}, follow=True)
    assert response.redirect_chain == [(reverse(DASHBOARD), 302)]
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Invalidated: every cached entry of testapp.product and of what depends on it."
    ]
    assert "Invalidated from the cache dashboard by operator" in caplog.text
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, product.pk)


def test_invalidate_a_tag_and_a_cached_function(operator):
    calls = []

    @django_distcache.cached(tags=["prices"])
    def price_list() -> list[int]:
        calls.append(1)
        return [1, 2]

    price_list()
    price_list()
    assert len(calls) == 1
    response = operator.post(reverse(INVALIDATE), {"tag": "prices"}, follow=True)
    (message,) = response.context["messages"]
    assert "every entry tagged 'prices'" in str(message)
    price_list()
    assert len(calls) == 2
    stats.flush()
    response = operator.post(reverse(INVALIDATE), {"namespace": price_list.namespace}, follow=True)
    (message,) = response.context["messages"]
    assert f"every cached result of {price_list.namespace}" in str(message)
    price_list()
    assert len(calls) == 3


def test_invalidate_refuses_an_unknown_namespace(operator):
    response = operator.post(reverse(INVALIDATE), {"namespace": "no.such"}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "error"
    assert "Nothing invalidated" in str(message)


def test_dashboard_says_redis_is_down_instead_of_failing(operator, redis_process):
    server = redis_process()
    with cache_on(server.url):
        server.stop()
        response = operator.get(reverse(DASHBOARD))
        assert response.status_code == 200
        page = response.content.decode()
        assert 'id="redis-down"' in page
        assert "Redis is unavailable" in page
        response = operator.post(reverse(INVALIDATE), {"namespace": "testapp.product"}, follow=True)
        (message,) = response.context["messages"]
        assert message.level_tag == "error"
        assert "Redis is unavailable" in str(message)


def test_a_mistyped_tag_is_refused_and_leaves_no_row(operator, raw_redis):
    before = set(raw_redis.scan_iter())
    response = operator.post(reverse(INVALIDATE), {"tag": "prizes"}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "error"
    assert "Nothing was ever cached with tag 'prizes'" in str(message)
    stats.flush()
    assert set(raw_redis.scan_iter()) == before
    page = operator.get(reverse(DASHBOARD)).content.decode()
    assert "tag:prizes" not in page
