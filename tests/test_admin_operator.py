"""What an operator reads on the dashboard: server, persistence, loss window, keys, inspector."""

from __future__ import annotations

import time

import pytest
import redis
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import reverse

import django_distcache
from tests.cache_override import cache_on
from tests.factories import ProductFactory
from tests.testapp.models import Product

DASHBOARD = "admin:django_distcache_dashboard_changelist"
INSPECT = "admin:django_distcache_dashboard_inspect"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def viewer() -> Client:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_distcache", codename="view_dashboard"
        )
    )
    client = Client()
    client.force_login(user)
    return client


def _page(client: Client, **params: str) -> str:
    response = client.get(reverse(DASHBOARD), params)
    assert response.status_code == 200
    return response.content.decode()


def test_server_version_role_policy_and_keys_per_namespace(viewer, raw_redis):
    product = ProductFactory()
    django_distcache.get_object(Product, product.pk)
    info = raw_redis.info()
    page = _page(viewer)
    assert f'<span id="redis-version">{info["redis_version"]}</span>' in page
    assert '<span id="redis-role">master</span>' in page
    assert f'<span id="eviction-policy">{info["maxmemory_policy"]}</span>' in page
    assert '<span id="rejected-connections">0</span>' in page
    entries = page[page.index('id="entries"') :]
    assert '<th scope="row">testapp.product</th><td>1</td>' in entries
    assert "Times in UTC." in page


@pytest.mark.parametrize(
    ("options", "window"),
    [
        (("--appendonly", "yes", "--appendfsync", "everysec"), "about the last second"),
        (("--appendonly", "yes", "--appendfsync", "always"), "A restart loses nothing"),
        (("--save", "900 1"), "since the last RDB snapshot (save 900 1)"),
        ((), "A restart loses every pending write: no AOF and no RDB snapshots."),
        (("--maxmemory-policy", "allkeys-lru"), "may evict buffered writes"),
    ],
)
def test_the_write_behind_loss_window_follows_persistence(viewer, redis_process, options, window):
    server = redis_process(*options)
    with cache_on(server.url):
        page = _page(viewer)
    loss = page[page.index('id="loss-window"') :]
    assert window in loss[: loss.index("</p>")]


def test_time_range_and_auto_refresh_are_chosen_from_a_list(viewer):
    page = _page(viewer, hours="24", refresh="30")
    assert '<meta http-equiv="refresh" content="30">' in page
    assert '<option value="24" selected>' in page
    assert "Last 1 days" not in page
    page = _page(viewer, hours="5000", refresh="1")  # not offered: the defaults
    assert 'http-equiv="refresh"' not in page
    assert '<option value="6" selected>' in page


def test_actions_that_change_state_ask_for_confirmation(viewer):
    user = User.objects.get(username="viewer")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_distcache", codename="change_dashboard"
        )
    )
    page = _page(viewer)
    for form in ("flush-form", "warm-form", "invalidate-form"):
        tag = page[page.index(f'id="{form}"') :].split(">", 1)[0]
        assert "data-confirm=" in tag
    assert "django_distcache/dashboard.js" in page


@override_settings(
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    X_FRAME_OPTIONS="DENY",
)
def test_the_dashboard_works_with_x_frame_options(viewer):
    response = viewer.get(reverse(DASHBOARD))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "<iframe" not in response.content.decode()


def test_inspector_shows_a_key_and_an_object_read_only(viewer, raw_redis):
    django_distcache.get_or_set("menu <b>", lambda: {"items": ["<script>"]}, tags=["menu"])
    product = ProductFactory(name="Lamp")
    django_distcache.get_object(Product, product.pk)
    before = {key: raw_redis.dump(key) for key in raw_redis.scan_iter() if b"stats" not in key}
    page = viewer.get(reverse(INSPECT), {"key": "menu <b>"}).content.decode()
    assert "{&#x27;items&#x27;: [&#x27;&lt;script&gt;&#x27;]}" in page
    assert "Lease held</th><td>no" in page
    page = viewer.get(reverse(INSPECT), {"model": "testapp.product", "pk": product.pk})
    assert "Lamp" in page.content.decode()
    missing = viewer.get(reverse(INSPECT), {"key": "nothing"}).content.decode()
    assert 'id="inspect-error"' in missing
    bad_pk = viewer.get(reverse(INSPECT), {"model": "testapp.product", "pk": "x"})
    assert "is not a primary key of testapp.Product" in bad_pk.content.decode()
    after = {key: raw_redis.dump(key) for key in raw_redis.scan_iter() if b"stats" not in key}
    assert after == before


def test_inspector_needs_the_view_permission():
    assert Client().get(reverse(INSPECT)).status_code == 302
    User.objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.login(username="staff", password="pw")
    assert client.get(reverse(INSPECT)).status_code == 403


def test_a_replica_and_its_lag_are_shown(viewer, redis_process):
    primary = redis_process()
    replica = redis_process("--replicaof", "127.0.0.1", str(primary.port))
    probe = redis.Redis(port=primary.port)
    deadline = time.monotonic() + 30
    while probe.info("replication").get("slave0", {}).get("state") != "online":  # its sync
        assert time.monotonic() < deadline, "the replica never connected"
        time.sleep(0.1)
    probe.close()
    with cache_on(primary.url):
        page = _page(viewer)
    shown = page[page.index('class="distcache-replica"') :].split("</p>", 1)[0]
    assert f"replica 127.0.0.1:{replica.port} online:" in shown
    assert "bytes behind" in shown
    assert "A failover loses what the replica had not yet received" in page
