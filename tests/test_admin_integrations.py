"""The dashboard's write-behind and warming panels and actions.

The first tests run against the real ``django_distcache.writebehind`` and
``django_distcache.warming`` modules and are skipped until they are installed. The
last ones hold the dashboard to the modules' agreed interface through small stand-in
modules, so the panels and actions are exercised either way.
"""

from __future__ import annotations

import logging
import sys
import types

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_distcache.stats.snapshot import snapshot

DASHBOARD = "admin:django_distcache_dashboard_changelist"
WARM = "admin:django_distcache_dashboard_warm"
FLUSH = "admin:django_distcache_dashboard_flush"
pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "op@example.com", "pw"))
    return client


def test_write_behind_panel_shows_the_real_backlog(operator):
    writebehind = pytest.importorskip("django_distcache.writebehind")
    backlog = writebehind.backlog()
    assert snapshot()["write_behind"]["models"] == backlog
    page = operator.get(reverse(DASHBOARD)).content.decode()
    for row in backlog:
        assert row["model"] in page
    response = operator.post(reverse(FLUSH), {"model": ""}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "success"


def test_warming_panel_runs_a_real_warmer(operator):
    warming = pytest.importorskip("django_distcache.warming")
    names = warming.warmer_names()
    if not names:
        pytest.skip("no warmer registered in the test project")
    response = operator.post(reverse(WARM), {"warmer": names[0]}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "success"
    assert names[0] in operator.get(reverse(DASHBOARD)).content.decode()


@pytest.fixture
def stand_ins(monkeypatch):
    """Modules with the agreed interface of writebehind and warming, recording calls."""
    calls: list[tuple] = []
    writebehind = types.ModuleType("django_distcache.writebehind")
    writebehind.backlog = lambda: [
        {"model": "testapp.product", "pending": 3, "oldest_age": 95.0, "dead_letters": 1}
    ]

    def flush_write_behind(model=None):
        calls.append(("flush", model))
        return {"flushed": 3, "failed": 0}

    writebehind.flush_write_behind = flush_write_behind
    warming = types.ModuleType("django_distcache.warming")
    warming.warmer_names = lambda: ["home_page", "top_products"]

    def warm(names=None):
        calls.append(("warm", names))
        return [{"name": n, "entries": 5, "errors": []} for n in names or warming.warmer_names()]

    warming.warm = warm
    warming.recent_runs = lambda limit=10: [
        {
            "name": "top_products",
            "started_at": "2026-01-01T12:00:00+00:00",
            "duration": 0.25,
            "entries": 40,
            "errors": [],
        }
    ]
    monkeypatch.setitem(sys.modules, "django_distcache.writebehind", writebehind)
    monkeypatch.setitem(sys.modules, "django_distcache.warming", warming)
    return calls


def test_panels_show_backlog_dead_letters_and_recent_runs(operator, stand_ins):
    page = operator.get(reverse(DASHBOARD)).content.decode()
    assert '<th scope="row">testapp.product</th><td>3</td>' in page
    assert "95 s" in page
    assert '<option value="top_products">top_products</option>' in page
    assert "2026-01-01T12:00:00+00:00" in page
    assert "Write-behind backlog of testapp.product is 95 s old (3 pending), above 60 s." in page
    assert "Write-behind of testapp.product has 1 dead letters." in page


def test_flush_and_warm_actions_call_the_modules_and_confirm(operator, stand_ins, caplog):
    with caplog.at_level(logging.INFO, logger="django_distcache"):
        response = operator.post(reverse(FLUSH), {"model": "testapp.product"}, follow=True)
        (message,) = response.context["messages"]
        assert str(message) == "Flushed write-behind of testapp.product: flushed 3, failed 0."
        response = operator.post(reverse(WARM), {"warmer": ""}, follow=True)
        (message,) = response.context["messages"]
        assert str(message) == "Warmed all warmers: 2 warmer(s) run, 10 entries, 0 errors."
    assert stand_ins == [("flush", "testapp.product"), ("warm", None)]
    assert "Flushed write-behind of testapp.product from the cache dashboard by operator" in (
        caplog.text
    )


def test_an_unknown_warmer_is_refused(operator, stand_ins):
    response = operator.post(reverse(WARM), {"warmer": "nope"}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "error"
    assert "There is no warmer named 'nope'." in str(message)
    assert stand_ins == []


def test_actions_without_the_modules_say_so(operator, monkeypatch):
    monkeypatch.setitem(sys.modules, "django_distcache.warming", None)
    response = operator.post(reverse(WARM), {"warmer": ""}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "error"
    assert "django_distcache.warming is not available" in str(message)
