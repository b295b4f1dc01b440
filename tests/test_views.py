"""cache_view: pages cached until a model they depend on changes, through the test client."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

import django_distcache
from tests.factories import ProductFactory
from tests.view_urls import RENDERS, product_list
from tests.workers import worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.view_urls")]


def renders(raw_redis) -> int:
    return int(raw_redis.get(RENDERS) or 0)


def test_second_request_is_served_without_rendering_or_queries(
    raw_redis, django_assert_num_queries
):
    ProductFactory(name="Lamp", price="9.90")
    client = Client()
    first = client.get("/products/")
    with django_assert_num_queries(0):
        second = client.get("/products/")
    assert renders(raw_redis) == 1
    assert first.status_code == second.status_code == 200
    assert second.content == first.content == b"<ul><li>Lamp 9.90</li></ul>"
    assert second["Content-Type"] == first["Content-Type"]


def test_a_committed_write_shows_on_the_next_request(raw_redis):
    product = ProductFactory(name="Lamp")
    client = Client()
    assert b"Lamp" in client.get("/products/").content
    product.name = "Desk lamp"
    product.save()
    assert b"Desk lamp" in client.get("/products/").content
    Product = type(product)
    Product.objects.filter(pk=product.pk).update(name="Floor lamp")  # no signal: the manager
    assert b"Floor lamp" in client.get("/products/").content
    assert renders(raw_redis) == 3


def test_query_strings_are_separate_pages(raw_redis):
    ProductFactory(name="Lamp")
    ProductFactory(name="Chair")
    client = Client()
    assert client.get("/products/?q=lamp").content == b"<ul><li>Lamp 9.99</li></ul>"
    assert client.get("/products/?q=chair").content == b"<ul><li>Chair 9.99</li></ul>"
    client.get("/products/?q=lamp")
    assert renders(raw_redis) == 2


def test_tags_and_invalidate_all_drop_every_page(raw_redis):
    ProductFactory()
    client = Client()
    client.get("/products/")
    django_distcache.invalidate("catalogue")
    client.get("/products/")
    product_list.invalidate_all()
    client.get("/products/")
    client.get("/products/")
    assert renders(raw_redis) == 3


def test_errors_cookies_and_posts_are_not_cached(raw_redis):
    client = Client()
    assert client.get("/products/999/").status_code == 404
    assert client.get("/products/999/").status_code == 404
    assert client.get("/cookie/").cookies["seen"].value == "1"
    assert client.get("/cookie/").cookies["seen"].value == "1"
    assert client.get("/unavailable/").status_code == 503
    assert client.get("/unavailable/").status_code == 503
    assert client.get("/private/")["Cache-Control"] == "private, max-age=60"
    client.get("/private/")
    assert renders(raw_redis) == 8
    ProductFactory()
    client.post("/products/")
    client.post("/products/")
    assert renders(raw_redis) == 10


def test_vary_on_headers_and_per_user(raw_redis):
    User.objects.create_user("ann", password="pw")
    guest, ann = Client(), Client()
    ann.login(username="ann", password="pw")
    assert guest.get("/greeting/", headers={"accept-language": "fr"}).content == b"fr guest"
    assert guest.get("/greeting/", headers={"accept-language": "de"}).content == b"de guest"
    assert ann.get("/greeting/", headers={"accept-language": "fr"}).content == b"fr ann"
    assert ann.get("/greeting/", headers={"accept-language": "fr"}).content == b"fr ann"
    assert renders(raw_redis) == 3


def test_inside_a_transaction_that_wrote_the_page_is_rendered_and_not_stored(raw_redis):
    product = ProductFactory(name="Lamp")
    client = Client()
    client.get("/products/")
    with transaction.atomic():
        product.name = "Uncommitted lamp"
        product.save()
        assert b"Uncommitted lamp" in client.get("/products/").content
        transaction.set_rollback(True)
    assert b"<li>Lamp" in client.get("/products/").content
    assert renders(raw_redis) == 2  # the first, the one inside; after the rollback: a hit


GET_ONCE = """
import django
django.setup()
from django.test import Client, override_settings
with override_settings(ROOT_URLCONF="tests.view_urls", ALLOWED_HOSTS=["testserver"]):
    response = Client().get("/products/")
print(response.status_code, response.content.decode())
"""


def test_concurrent_misses_in_two_processes_render_once(raw_redis):
    ProductFactory(name="Lamp")
    env = {**worker_env(), "DISTCACHE_TEST_RENDER_SECONDS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", GET_ONCE], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60)[0].strip() for process in processes]
    assert outputs == ["200 <ul><li>Lamp 9.99</li></ul>"] * 2
    assert renders(raw_redis) == 1
