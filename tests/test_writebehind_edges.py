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

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


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


def test_increment_after_a_deferred_null_value_is_n(nullable_stock, raw_redis):
    product = ProductFactory(stock=7)
    _buffer_raw(raw_redis, "testapp.product", product.pk, {"stock": None})
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    assert django_distcache.get_object(Product, product.pk).stock == 4
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 4


def _batch_key(model_label: str, batch_id: str) -> str:
    return f"dctest:wb:{{{model_label}}}:b:{batch_id}"


def _expire_lease(raw_redis, model_label: str, batch_id: str) -> None:
    raw_redis.zadd(f"dctest:wb:{{{model_label}}}:batches", {batch_id: 0}, xx=True)


def test_recovery_never_acknowledges_a_row_its_owner_had_not_decided(raw_redis, settings):
    """The recovering flush reads the batch while its slow owner still writes it; the
    owner then sets a failed row aside, commits and dies before acknowledging."""
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_MAX_ATTEMPTS": 2,
        "WRITE_BEHIND_RETRY_BACKOFF": 0,
    }
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


def _buffer_raw(raw_redis, model_label: str, pk, fields: dict) -> None:
    """A row's record put in the buffer as it is stored, past the checks of write_behind()
    (as a record buffered by an older release would be)."""
    from django_distcache.reads import readthrough

    codec = readthrough.serializer()
    now = int(time.time() * 1000)
    root = f"dctest:wb:{{{model_label}}}"
    mapping = {f"v:{name}": codec.dumps(value) for name, value in fields.items()}
    raw_redis.hset(f"{root}:r:{pk}", mapping={**mapping, "n": 1, "since": now})
    raw_redis.zadd(f"{root}:pending", {str(pk): now})
    raw_redis.set(f"{root}:f:{pk}", 1)
    raw_redis.sadd("dctest:wb:models", model_label)


ONE_RETRY = {
    "KEY_PREFIX": "dctest",
    "WRITE_BEHIND_MAX_ATTEMPTS": 2,
    "WRITE_BEHIND_RETRY_BACKOFF": 0,
}


def test_any_exception_of_a_row_isolates_it_counts_an_attempt_and_dead_letters_it(
    raw_redis, settings
):
    settings.DISTCACHE = {**settings.DISTCACHE, **ONE_RETRY}
    bad, good = ProductFactory.create_batch(2, stock=0)
    _buffer_raw(raw_redis, "testapp.product", bad.pk, {"stock": float("inf")})  # OverflowError
    django_distcache.write_behind_incr(Product, good.pk, "stock", by=2)
    first = flush_write_behind(Product)
    assert (first["rows"], first["retried"]) == (1, 1)
    assert stock_in_db(good.pk) == 2
    second = flush_write_behind(Product)
    assert second["dead_lettered"] == 1
    [letter] = dead_letters(Product)
    assert letter["pk"] == str(bad.pk)
    assert letter["attempts"] == 2
    assert "OverflowError" in letter["error"]
    assert [entry["pending"] for entry in backlog()] == [0]


@pytest.fixture
def failing_tag_updates():
    """Updates of tags named 'timeout' or 'locked' fail as a statement or lock timeout would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION distcache_test_fail() RETURNS trigger AS $$ BEGIN "
            "IF NEW.name = 'timeout' THEN RAISE EXCEPTION 'canceling statement due to "
            "statement timeout' USING ERRCODE = 'query_canceled'; END IF; "
            "IF NEW.name = 'locked' THEN RAISE EXCEPTION 'could not obtain lock' "
            "USING ERRCODE = 'lock_not_available'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER distcache_test_fail BEFORE UPDATE ON testapp_tag "
            "FOR EACH ROW EXECUTE FUNCTION distcache_test_fail()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS distcache_test_fail ON testapp_tag")


def test_statement_and_lock_timeouts_are_errors_of_their_row(failing_tag_updates, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, **ONE_RETRY}
    slow, locked, good = TagFactory(name="a"), TagFactory(name="b"), TagFactory(name="c")
    for tag, name in ((slow, "timeout"), (locked, "locked"), (good, "fine")):
        tag.name = name
        django_distcache.write_behind(tag, fields=["name"])
    first = flush_write_behind(Tag)
    assert (first["rows"], first["retried"]) == (1, 2)
    assert Tag.objects.get(pk=good.pk).name == "fine"
    flush_write_behind(Tag)
    letters = {letter["pk"]: letter["error"] for letter in dead_letters(Tag)}
    assert "QueryCanceled" in letters[str(slow.pk)] or "timeout" in letters[str(slow.pk)]
    assert "lock" in letters[str(locked.pk)]
    assert Tag.objects.get(pk=slow.pk).name == "a"


def test_a_row_locked_by_a_long_transaction_does_not_stall_the_flush():
    held, free = ProductFactory.create_batch(2, stock=0)
    for product in (held, free):
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=4)
    results = {}

    def flush() -> None:
        try:
            results["counts"] = flush_write_behind(Product)
        finally:
            connection.close()

    with _session() as blocker:
        blocker.execute("SELECT 1 FROM testapp_product WHERE id = %s FOR UPDATE", [held.pk])
        flusher = threading.Thread(target=flush)
        flusher.start()
        flusher.join(timeout=20)
        stalled = flusher.is_alive()
        blocker.rollback()
    flusher.join(timeout=30)
    assert not stalled, "the flush waited for the row lock"
    assert (stock_in_db(held.pk), stock_in_db(free.pk)) == (0, 4)
    assert results["counts"]["dead_lettered"] == 0
    wait_until(lambda: flush_write_behind(Product)["rows"] == 1)
    assert stock_in_db(held.pk) == 4
    assert backlog() == []


def test_backlog_age_counts_rows_in_flight(raw_redis):
    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    claim_batch(Product)  # and its flush died
    time.sleep(0.05)
    [entry] = backlog()
    assert entry["in_flight"] == 1
    assert entry["oldest_age"] is not None
    assert entry["oldest_age"] >= 0.05


def _nothing_buffered(raw_redis) -> bool:
    return not raw_redis.keys("dctest:wb:*:r:*")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stock", "many", "stock"),
        ("stock", None, "stock"),
        ("stock", 2**40, "stock"),
        ("price", "cheap", "price"),
        ("name", "x" * 201, "name"),
    ],
)
def test_a_value_the_column_refuses_is_an_error_at_the_call(raw_redis, field, value, message):
    product = ProductFactory(stock=1, name="a")
    setattr(product, field, value)
    with pytest.raises(ValueError, match=message):
        django_distcache.write_behind(product, fields=[field])
    assert _nothing_buffered(raw_redis)
    assert django_distcache.get_object(Product, product.pk).stock == 1


def test_values_are_buffered_as_the_field_prepares_them():
    product = ProductFactory(stock=1)
    product.stock = "7"
    django_distcache.write_behind(product, fields=["stock"])
    assert django_distcache.get_object(Product, product.pk).stock == 7
    flush_write_behind(Product)
    assert stock_in_db(product.pk) == 7


def test_unknown_field_or_unsaved_instance_is_an_error_at_the_call(raw_redis):
    from django.core.exceptions import FieldDoesNotExist

    product = ProductFactory()
    with pytest.raises(FieldDoesNotExist):
        django_distcache.write_behind(product, fields=["colour"])
    with pytest.raises(ValueError, match="saved"):
        django_distcache.write_behind(Product(name="new"), fields=["name"])
    with pytest.raises(ValueError, match="primary key"):
        django_distcache.write_behind_incr(Product, None, "stock")
    with pytest.raises(ValueError, match="primary key"):
        django_distcache.write_behind_incr(Product, "not-a-number", "stock")
    assert _nothing_buffered(raw_redis)


@pytest.mark.parametrize("field", ["name", "category", "attributes", "id"])
def test_increment_of_a_column_that_is_not_a_number_is_an_error_at_the_call(raw_redis, field):
    product = ProductFactory()
    with pytest.raises(ValueError, match=field):
        django_distcache.write_behind_incr(Product, product.pk, field)
    assert _nothing_buffered(raw_redis)


def test_increment_of_a_decimal_column_is_accepted():
    product = ProductFactory(price="1.50")
    django_distcache.write_behind_incr(Product, product.pk, "price", by=2)
    assert str(django_distcache.get_object(Product, product.pk).price) == "3.50"
    flush_write_behind(Product)
    assert str(Product.objects.get(pk=product.pk).price) == "3.50"


def _unreachable_buffer(redis_process) -> dict:
    from django.conf import settings

    server = redis_process()
    server.stop()
    caches = {
        **settings.CACHES,
        "buffer": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url},
    }
    return {
        "CACHES": caches,
        "DISTCACHE": {"KEY_PREFIX": "dctest", "WRITE_BEHIND_CACHE_ALIAS": "buffer"},
    }


def test_distcache_flush_with_the_buffer_down_is_a_command_error(redis_process, one_redis):
    from django.core.management import CommandError, call_command

    with (
        override_settings(**_unreachable_buffer(redis_process)),
        pytest.raises(CommandError, match="Redis"),
    ):
        call_command("distcache_flush", "--model", "testapp.Product")


def test_distcache_flush_with_the_database_down_is_a_command_error(monkeypatch):
    from django.core.management import CommandError, call_command

    product = ProductFactory(stock=0)
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    settings_dict = connection.settings_dict
    monkeypatch.setitem(settings_dict, "PORT", _closed_port())
    connection.close()
    try:
        with pytest.raises(CommandError, match="database is unavailable"):
            call_command("distcache_flush", "--model", "testapp.Product")
    finally:
        monkeypatch.undo()
        connection.close()
    assert backlog()[0]["pending"] == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_deferred_write_keeps_the_cached_row(django_assert_num_queries):
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)  # cached
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, product.pk).stock == 11
        django_distcache.write_behind_incr(Product, product.pk, "stock")
        assert django_distcache.get_object(Product, product.pk).stock == 12
        assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 12
    flush_write_behind(Product)
    # The flush stored the row's entry afresh: still a hit.
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, product.pk).stock == 12


def test_a_flushed_row_stays_cached_when_the_flush_writes_through_the_orm(
    monkeypatch, django_assert_num_queries
):
    """Off PostgreSQL the flush writes with bulk_update, whose invalidation drops the
    rows' entries at its commit, before the batch is acknowledged."""
    from django_distcache.writebehind import sql

    monkeypatch.setattr(sql, "orm_writes", lambda using: True)
    product = ProductFactory(stock=10)
    django_distcache.get_object(Product, product.pk)  # cached
    django_distcache.write_behind_incr(Product, product.pk, "stock")
    assert flush_write_behind(Product)["rows"] == 1
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, product.pk).stock == 11


def test_a_cached_row_read_before_a_deferred_write_is_not_counted_twice():
    product = ProductFactory(stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=5)
    assert django_distcache.get_object(Product, product.pk).stock == 15  # a miss, stored
    assert django_distcache.get_object(Product, product.pk).stock == 15  # a hit
    assert django_distcache.get_objects(Product, [product.pk])[product.pk].stock == 15
    flush_write_behind(Product)
    assert django_distcache.get_object(Product, product.pk).stock == 15


def test_a_hit_reads_the_buffer_only_for_rows_with_deferred_writes(round_trips):
    written, untouched = ProductFactory.create_batch(2, stock=1)
    for product in (written, untouched):
        django_distcache.get_object(Product, product.pk)
    django_distcache.write_behind_incr(Product, written.pk, "stock")
    round_trips.reset()
    assert django_distcache.get_object(Product, untouched.pk).stock == 1
    assert round_trips.count == 1
    round_trips.reset()
    assert django_distcache.get_object(Product, written.pk).stock == 2
    assert round_trips.count == 1
    flush_write_behind(Product)
    round_trips.reset()
    assert django_distcache.get_object(Product, written.pk).stock == 2
    assert round_trips.count == 1


def test_an_overflow_drops_only_the_row_it_wrote_through(django_assert_num_queries, settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_MAX_PENDING": 1}
    waiting, overflowing, bystander = ProductFactory.create_batch(3, stock=0)
    for product in (waiting, overflowing, bystander):
        django_distcache.get_object(Product, product.pk)
    django_distcache.write_behind_incr(Product, waiting.pk, "stock")  # fills the buffer
    django_distcache.write_behind_incr(Product, overflowing.pk, "stock", by=4)  # through
    assert stock_in_db(overflowing.pk) == 4
    assert django_distcache.get_object(Product, overflowing.pk).stock == 4
    with django_assert_num_queries(0):
        assert django_distcache.get_object(Product, bystander.pk).stock == 0
        assert django_distcache.get_object(Product, waiting.pk).stock == 1


class WorkerDied(BaseException):
    """The worker process dies: nothing after this runs."""


def test_a_row_that_kills_its_flush_is_dead_lettered_after_a_bounded_number_of_deaths(
    raw_redis, monkeypatch, settings
):
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_MAX_ATTEMPTS": 3}
    from django_distcache.writebehind import flush as flush_module
    from django_distcache.writebehind.recovery import recover_stale_batches

    products = ProductFactory.create_batch(4, stock=0)
    poison = products[1]
    for product in products:
        django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    real_apply_rows = flush_module.apply_rows

    def apply_rows(model, using, records):
        if poison.pk in records:
            raise WorkerDied
        return real_apply_rows(model, using, records)

    monkeypatch.setattr(flush_module, "apply_rows", apply_rows)
    using, deaths = router.db_for_write(Product), 0
    for _ in range(30):
        recover_stale_batches(Product, using)
        try:
            counts = flush_module.flush_batch(Product, using)
        except WorkerDied:
            deaths += 1
            for batch_id in raw_redis.zrange("dctest:wb:{testapp.product}:batches", 0, -1):
                _expire_lease(raw_redis, "testapp.product", batch_id.decode())
            continue
        if counts is None and backlog()[0]["pending"] == 0:
            break
    assert deaths == 3
    [letter] = dead_letters(Product)
    assert letter["pk"] == str(poison.pk)
    assert "died" in letter["error"]
    others = [p.pk for p in products if p.pk != poison.pk]
    assert [stock_in_db(pk) for pk in others] == [2, 2, 2]
    assert stock_in_db(poison.pk) == 0
