"""The dashboard's write-behind and warming panels and actions, on a real workload."""

from __future__ import annotations

import logging
import re
import time

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import reverse

import django_distcache
from django_distcache.templatetags.distcache_admin import distcache_time
from django_distcache.warming import recent_runs
from django_distcache.writebehind import backlog, dead_letters
from tests.factories import ProductFactory
from tests.testapp.models import Product

DASHBOARD = "admin:django_distcache_dashboard_changelist"
WARM = "admin:django_distcache_dashboard_warm"
FLUSH = "admin:django_distcache_dashboard_flush"
# Flushes commit and record their transaction: they run outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def _client(username: str, *codenames: str, **kwargs) -> Client:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_distcache", codename=codename)
        )
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return _client("operator", "view_dashboard", "change_dashboard")


@pytest.fixture
def viewer() -> Client:
    return _client("viewer", "view_dashboard")


def _message(response) -> tuple[str, str]:
    (message,) = response.context["messages"]
    return message.level_tag, str(message)


def _write_behind_row(page: str, model: str) -> str:
    panel = page[page.index('id="write-behind"') :]
    row = panel[panel.index(f'<th scope="row">{model}</th>') :]
    return row[: row.index("</tr>")]


def _dead_letter(operator: Client) -> int:
    """A deferred increment of a row deleted before it was made: one dead letter."""
    doomed = ProductFactory(stock=10)
    doomed_pk = doomed.pk
    doomed.delete()
    django_distcache.write_behind_incr(Product, doomed_pk, "stock")
    response = operator.post(reverse(FLUSH), {"model": "testapp.product"}, follow=True)
    # a dead letter is news the operator must not miss: a warning, not a success
    assert _message(response) == (
        "warning",
        "Flushed write-behind of testapp.product: batches 1, rows 0, writes 0, coalesced 0, "
        "dead lettered 1, retried 0, superseded 0, recovered 0.",
    )
    return doomed_pk


def _three_pending_rows() -> tuple[Product, Product, Product]:
    """Three products with deferred writes: six writes coalescing into three rows."""
    priced, counted, renamed = ProductFactory.create_batch(3, stock=10)
    priced.stock = 3
    django_distcache.write_behind(priced, fields=["stock"])
    for _ in range(3):
        django_distcache.write_behind_incr(Product, counted.pk, "stock")
    renamed.name = "renamed"
    django_distcache.write_behind(renamed, fields=["name"])
    django_distcache.write_behind_incr(Product, renamed.pk, "stock", by=5)
    return priced, counted, renamed


def test_panel_shows_pending_rows_dead_letters_and_their_warnings(operator):
    deleted_pk = _dead_letter(operator)
    _three_pending_rows()
    [letter] = dead_letters(Product)
    assert letter["pk"] == str(deleted_pk)
    assert "no longer exists" in letter["error"]

    page = operator.get(reverse(DASHBOARD)).content.decode()
    row = _write_behind_row(page, "testapp.product")
    assert re.fullmatch(
        r'<th scope="row">testapp.product</th><td>3</td>\s*<td>\d+ s</td>'
        r"<td>1</td>",
        row,
    ), row
    namespace = page[page.index('data-namespace="testapp.product"') :]
    assert "<td>3 pending</td>" in namespace[: namespace.index("</tr>")]
    assert '<option value="testapp.product">testapp.product</option>' in page
    assert "Write-behind of testapp.product has 1 dead letters." in page
    assert "Write-behind backlog of" not in page  # 60 s by default: the rows are younger

    time.sleep(0.6)
    with override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "HEALTH_MAX_BACKLOG_AGE": 0.5}):
        page = operator.get(reverse(DASHBOARD)).content.decode()
    assert re.search(
        r"Write-behind backlog of testapp.product is \d+ s old \(3 pending\), above 0.5 s.", page
    )


def test_flush_action_applies_the_pending_writes_to_the_database(operator, caplog):
    _dead_letter(operator)
    priced, counted, renamed = _three_pending_rows()
    with caplog.at_level(logging.INFO, logger="django_distcache"):
        response = operator.post(reverse(FLUSH), {"model": ""}, follow=True)
    assert response.redirect_chain == [(reverse(DASHBOARD), 302)]
    assert _message(response) == (
        "success",
        "Flushed write-behind of all models: batches 1, rows 3, writes 6, coalesced 3, "
        "dead lettered 0, retried 0, superseded 0, recovered 0.",
    )
    assert "Flushed write-behind of all models from the cache dashboard by operator" in (
        caplog.text
    )
    rows = Product.objects.in_bulk([priced.pk, counted.pk, renamed.pk])
    assert rows[priced.pk].stock == 3
    assert rows[counted.pk].stock == 13
    assert (rows[renamed.pk].name, rows[renamed.pk].stock) == ("renamed", 15)
    [entry] = backlog()
    assert (entry["pending"], entry["dead_letters"]) == (0, 1)
    page = response.content.decode()
    assert re.search(
        r'<th scope="row">testapp.product</th><td>0</td>\s*<td>&ndash;</td><td>1</td>', page
    )


def test_warm_action_runs_a_warmer_and_the_page_shows_the_run(operator, django_assert_num_queries):
    products = ProductFactory.create_batch(3)
    response = operator.post(reverse(WARM), {"warmer": "products"}, follow=True)
    assert _message(response) == (
        "success",
        "Warmed products: 1 warmer(s) run, 3 entries, 0 errors.",
    )
    [run] = recent_runs()
    assert (run["name"], run["entries"], run["errors"]) == ("products", 3, [])
    with django_assert_num_queries(0):
        for product in products:
            assert django_distcache.get_object(Product, product.pk).name == product.name
    page = response.content.decode()
    panel = page[page.index('id="warming"') :]
    shown = distcache_time(run["started_at"])  # in the project's time zone
    assert f'<th scope="row">products</th><td>{shown}</td>' in panel
    assert "<td>3</td><td>0</td>" in panel
    assert '<option value="products">products</option>' in panel


def test_warm_action_counts_the_errors_of_a_failing_warmer(operator):
    response = operator.post(reverse(WARM), {"warmer": "broken"}, follow=True)
    assert _message(response) == (
        "warning",
        "Warmed broken: 1 warmer(s) run, 0 entries, 1 errors.",
    )
    [run] = recent_runs()
    assert run["errors"] == ["RuntimeError: the warmer's query failed"]
    page = response.content.decode()
    assert "<td>0</td><td>1: RuntimeError: the warmer&#x27;s query failed</td>" in page


def test_an_unknown_warmer_is_refused(operator):
    response = operator.post(reverse(WARM), {"warmer": "nope"}, follow=True)
    assert _message(response) == (
        "error",
        "Warmed nope failed: There is no warmer named 'nope'.",
    )
    assert recent_runs() == []


def test_viewer_cannot_flush_or_warm(viewer):
    _, counted, _ = _three_pending_rows()
    page = viewer.get(reverse(DASHBOARD)).content.decode()
    assert 'id="flush-form"' not in page
    assert 'id="warm-form"' not in page
    assert viewer.post(reverse(FLUSH), {"model": ""}).status_code == 403
    assert viewer.post(reverse(WARM), {"warmer": "products"}).status_code == 403
    assert Product.objects.get(pk=counted.pk).stock == 10
    assert backlog()[0]["pending"] == 3
    assert recent_runs() == []


def test_flush_and_warm_are_post_only_and_need_the_csrf_token(operator):
    assert operator.get(reverse(FLUSH)).status_code == 405
    assert operator.get(reverse(WARM)).status_code == 405
    client = _client("guarded", "view_dashboard", "change_dashboard", enforce_csrf_checks=True)
    _, counted, _ = _three_pending_rows()
    assert client.post(reverse(FLUSH), {"model": ""}).status_code == 403
    assert client.post(reverse(WARM), {"warmer": "products"}).status_code == 403
    assert Product.objects.get(pk=counted.pk).stock == 10
    assert recent_runs() == []
    page = client.get(reverse(DASHBOARD)).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(reverse(FLUSH), {"model": "", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Product.objects.get(pk=counted.pk).stock == 13


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("testapp.category", "does not allow write-behind"),
        ("testapp.uncached", "not registered"),
        ("nope.model", "nope"),
    ],
)
def test_flushing_a_model_that_is_not_write_behind_is_an_error_message(operator, model, message):
    response = operator.post(reverse(FLUSH), {"model": model}, follow=True)
    assert response.status_code == 200
    (shown,) = response.context["messages"]
    assert shown.level_tag == "error"
    assert f"Flushed write-behind of {model} failed:" in str(shown)
    assert message in str(shown)
