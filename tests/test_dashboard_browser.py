"""A real browser (headless Chromium) uses the cache dashboard of a live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

import django_distcache
from django_distcache.models import StatsSnapshot
from tests.factories import ProductFactory
from tests.testapp.models import Product

# Screenshots go to a temporary directory (its path is printed), never into the source tree.
# Without the background-networking switches Chromium tries to reach the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.django_db(transaction=True)


def _chromium() -> str:
    path = os.environ.get("DISTCACHE_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None
    )
    if not path:
        pytest.skip(
            "browser test skipped: no Chromium found (install the Debian package 'chromium' "
            "or set DISTCACHE_CHROMIUM; `make test` installs it when run as root with apt-get)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: the Python package 'playwright' is not installed")
    # Playwright's sync API keeps an event loop on this thread; Django's database
    # calls from the test itself are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _history(commands_now: int) -> None:
    """Stored snapshots of the last hours, as the periodic task leaves them; the last one
    counted ``commands_now`` Redis commands, 1,800 x 121 more than the first."""
    now = timezone.now()
    for step in range(12):
        hits, misses = 100 * step * step, 40 * step
        StatsSnapshot.objects.create(
            taken_at=now - timedelta(minutes=30 * (11 - step)),
            data={
                "redis_available": True,
                "hits": hits,
                "misses": misses,
                "evicted_keys": 5 * max(0, step - 6) ** 2,
                "expired_keys": 0,
                "commands_processed": commands_now - 1_800 * (121 - step * step),
                "used_memory": 2_000_000 + 150_000 * step,
                "maxmemory": 0,
                "namespaces": {},
            },
        )


def _log_in(page, live_server) -> None:
    User.objects.create_superuser("admin", "admin@example.com", "secret-pw")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "secret-pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def _widest_table_fits(page) -> bool:
    return page.evaluate(
        """() => [...document.querySelectorAll('.distcache table')].every(
            t => t.scrollWidth <= t.parentElement.clientWidth + 1)"""
    )


def test_dashboard_in_a_real_browser(
    browser, live_server, django_assert_num_queries, tmp_path_factory, raw_redis
):
    artifacts = tmp_path_factory.mktemp("dashboard-screenshots")
    print(f"screenshots in {artifacts}")
    product = ProductFactory(name="Lamp")
    for _ in range(4):
        django_distcache.get_object(Product, product.pk)  # 1 miss, 3 hits
    for pk in (10_001, 10_002, 10_003):
        with pytest.raises(Product.DoesNotExist):
            django_distcache.get_object(Product, pk)  # 3 misses
    _history(raw_redis.info("stats")["total_commands_processed"])

    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, live_server)
    page.click("text=Cache dashboard")
    page.wait_for_selector("#overall-hit-rate")
    assert page.inner_text("#overall-hit-rate") == "42.9%"
    assert page.inner_text("#overall-hits") == "3"
    assert page.inner_text("#overall-misses") == "4"
    row = page.locator('tr[data-namespace="testapp.product"]')
    assert row.locator("td.hits").inner_text() == "3"
    assert row.locator("td.misses").inner_text() == "4"
    assert row.locator("td.loads").inner_text() == "4"
    assert page.locator("svg.distcache-chart").count() == 4
    # from the range's first snapshot (5.5 h ago) to now: 1,800 x 121 commands and the few
    # of this test (not Redis's instantaneous figure)
    commands_rate = float(page.inner_text("#rate-commands").removesuffix("/s"))
    assert 11.0 <= commands_rate < 11.5
    assert _widest_table_fits(page)
    page.screenshot(path=str(artifacts / "dashboard-light.png"), full_page=True)

    dark = browser.new_context(viewport={"width": 1280, "height": 1500}, color_scheme="dark")
    dark.add_cookies(context.cookies())
    dark_page = dark.new_page()
    dark_page.goto(page.url)
    dark_page.wait_for_selector("#overall-hit-rate")
    assert _widest_table_fits(dark_page)
    dark_page.screenshot(path=str(artifacts / "dashboard-dark.png"), full_page=True)
    dark.close()

    page.select_option("#invalidate-namespace", "testapp.product")
    dialogs = []
    # the first confirmation is declined: nothing happens; the second is accepted
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("#invalidate-form input[type=submit]")
    assert page.locator(".messagelist .success").count() == 0
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#invalidate-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert page.inner_text(".messagelist .success") == (
        "Invalidated: every cached entry of testapp.product and of what depends on it."
    )
    assert dialogs[0].startswith("Invalidate every entry of this namespace or tag?")
    assert len(dialogs) == 2
    page.screenshot(path=str(artifacts / "dashboard-after-invalidate.png"), full_page=True)
    context.close()
    with django_assert_num_queries(1):
        django_distcache.get_object(Product, product.pk)
