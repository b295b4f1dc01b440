"""Write-behind at its edges: NULL columns, bad values, failing rows, recovery races."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, router
from django.test import override_settings

import django_distcache
from django_distcache.writebehind import backlog, dead_letters, flush_write_behind
from django_distcache.writebehind.buffer import buffer_keys
from django_distcache.writebehind.flush import BatchLost, apply_batch, claim_batch
from django_distcache.writebehind.recovery import settle_batch, steal_batch
from tests.factories import ProductFactory, TagFactory
from tests.testapp.models import Product, Tag

pytestmark = pytest.mark.django_db(transaction=True)


def stock_in_db(pk: int) -> int | None:
    return Product.objects.values_list("stock", flat=True).get(pk=pk)


@pytest.fixture
def nullable_stock():
    """testapp_product.stock accepts NULL, as a column of a legacy table would."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE testapp_product ALTER COLUMN stock DROP NOT NULL")
    yield
    with connection.cursor() as cursor:
        cursor.execute("UPDATE testapp_product SET stock = 0 WHERE stock IS NULL")
        cursor.execute("ALTER TABLE testapp_product ALTER COLUMN stock SET NOT NULL")


def test_increment_of_a_null_column_reads_and_flushes_as_null_plus_n_is_n(nullable_stock):
    product = ProductFactory(stock=0)
    Product.objects.filter(pk=product.pk).update(stock=None)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=3)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    assert django_distcache.get_object(Product, product.pk).stock == 5
    counts = flush_write_behind(Product)
    assert (counts["rows"], counts["dead_lettered"]) == (1, 0)
    assert stock_in_db(product.pk) == 5
    assert django_distcache.get_object(Product, product.pk).stock == 5
    assert backlog() == []
    assert dead_letters(Product) == []


def test_increment_after_a_deferred_null_value_is_n(nullable_stock):
    product = ProductFactory(stock=7)
    product.stock = None
    django_distcache.write_behind(product, fields=["stock"])
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    assert django_distcache.get_object(Product, product.pk).stock == 4
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 4


def _batch_key(model_label: str, batch_id: str) -> str:
    return f"dctest:wb:{model_label}:b:{batch_id}"


def _expire_lease(raw_redis, model_label: str, batch_id: str) -> None:
    raw_redis.zadd(f"dctest:wb:{model_label}:batches", {batch_id: 0}, xx=True)


@override_settings(
    DISTCACHE={
        "KEY_PREFIX": "dctest",
        "WRITE_BEHIND_MAX_ATTEMPTS": 2,
        "WRITE_BEHIND_RETRY_BACKOFF": 0,
    }
)
def test_recovery_never_acknowledges_a_row_its_owner_had_not_decided(raw_redis):
    """The recovering flush reads the batch while its slow owner still writes it; the
    owner then sets a failed row aside, commits and dies before acknowledging."""
    bad, good = TagFactory(name="x"), TagFactory(name="y")
    bad.name, good.name = "taken", "fine"
    django_distcache.write_behind(bad, fields=["name"])
    django_distcache.write_behind(good, fields=["name"])
    batch_id, pks = claim_batch(Tag)
    using = router.db_for_write(Tag)
    with _session() as blocker:
        # Not committed yet: the owner's update of `bad` waits for it, then fails.
        blocker.execute("INSERT INTO testapp_tag (name) VALUES ('taken')")
        owner = threading.Thread(target=_apply_and_die, args=(Tag, batch_id, pks))
        owner.start()
        wait_until(lambda: raw_redis.hexists(_batch_key("testapp.tag", batch_id), "txid"))
        _expire_lease(raw_redis, "testapp.tag", batch_id)
        stolen = steal_batch(Tag, batch_id)
        assert stolen is not None
        blocker.commit()
    owner.join(timeout=30)
    assert settle_batch(Tag, using, batch_id, stolen)
    assert Tag.objects.get(pk=good.pk).name == "fine"
    # The failed row was not acknowledged as written: it is retried, then dead-lettered.
    assert backlog()[0]["pending"] == 1
    flush_write_behind(Tag)
    [letter] = dead_letters(Tag)
    assert (letter["pk"], letter["values"]) == (str(bad.pk), {"name": "taken"})


def test_batch_stolen_before_its_owner_began_is_not_written_by_the_owner(raw_redis):
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    batch_id, pks = claim_batch(Product)
    _expire_lease(raw_redis, "testapp.product", batch_id)
    stolen = steal_batch(Product, batch_id)
    # The owner, slow to begin, begins now: too late.
    _apply_and_die(Product, batch_id, pks)
    assert settle_batch(Product, router.db_for_write(Product), batch_id, stolen)
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 2


def _apply_and_die(model, batch_id: str, pks: list[str]) -> None:
    """A flush that applies its batch and dies before acknowledging it."""
    try:
        apply_batch(model, router.db_for_write(model), buffer_keys(model), batch_id, pks)
    except BatchLost:
        pass
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()


def _session():
    settings_dict = connection.settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
    )


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")
