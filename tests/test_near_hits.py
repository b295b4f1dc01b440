"""A near-cache hit of get_object: the transaction's own writes, pk spellings, counts."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import models, transaction

import django_distcache
from django_distcache import hotkeys, stats
from django_distcache.reads import instances, near
from tests.test_near_cache import l1, settled, wait_for  # noqa: F401  (the fixture)
from tests.testapp.models import Category, Product

# On one Redis and on a Redis Cluster (tests/cluster.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


def in_l1(cache, model, pk) -> None:
    """Read ``pk`` until the near cache holds it (the first read creates the generations)."""
    for _ in range(2):
        django_distcache.get_object(model, pk)
    hits = cache.info()["hits"]
    django_distcache.get_object(model, pk)
    assert cache.info()["hits"] == hits + 1


def test_a_transaction_reads_its_own_write_not_l1(l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    settled(l1)
    in_l1(l1, Category, category.pk)
    with transaction.atomic():
        Category.objects.filter(pk=category.pk).update(name="new")
        assert django_distcache.get_object(Category, category.pk).name == "new"
        transaction.set_rollback(True)
    assert django_distcache.get_object(Category, category.pk).name == "old"


def test_a_manual_transaction_reads_its_own_write_not_l1(l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="old")
    settled(l1)
    in_l1(l1, Category, category.pk)
    transaction.set_autocommit(False)
    try:
        category.name = "new"
        category.save()
        assert django_distcache.get_object(Category, category.pk).name == "new"
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert django_distcache.get_object(Category, category.pk).name == "old"


def test_a_write_to_a_model_it_depends_on_bypasses_l1(l1, django_assert_num_queries):  # noqa: F811
    django_distcache.register(Product, near_cache=True, depends_on=[Category])
    product = Product.objects.create(name="pen")
    settled(l1)
    in_l1(l1, Product, product.pk)
    with transaction.atomic():
        Category.objects.create(name="new")
        with django_assert_num_queries(1):
            django_distcache.get_object(Product, product.pk)


def test_a_transaction_that_wrote_nothing_is_served_by_l1(l1, django_assert_num_queries):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category, other = Category.objects.create(name="a"), Category.objects.create(name="b")
    settled(l1)
    in_l1(l1, Category, category.pk)
    with transaction.atomic():
        Category.objects.filter(pk=other.pk).update(name="c")  # another row
        with django_assert_num_queries(0):
            assert django_distcache.get_object(Category, category.pk).name == "a"


@pytest.mark.parametrize("spell", [int, str, float, Decimal])
def test_every_spelling_of_a_pk_hits_the_same_entry(l1, spell):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(l1)
    in_l1(l1, Category, category.pk)
    hits = l1.info()["hits"]
    assert django_distcache.get_object(Category, spell(category.pk)).name == "a"
    assert l1.info()["hits"] == hits + 1


def test_a_uuid_pk_is_hit_in_every_spelling(l1):  # noqa: F811
    from tests.testapp.models import Document

    django_distcache.register(Document, near_cache=True)
    document = Document.objects.create(title="t")
    settled(l1)
    in_l1(l1, Document, document.pk)
    hits = l1.info()["hits"]
    for spelling in (document.pk, str(document.pk), document.pk.hex):
        assert django_distcache.get_object(Document, spelling).pk == document.pk
    assert l1.info()["hits"] == hits + 3


def test_a_missing_row_kept_in_l1_raises_does_not_exist(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_MISSING": True}
    cache = near.near_cache()  # started under these settings
    wait_for(lambda: cache.live)
    django_distcache.register(Category, near_cache=True)
    for _ in range(2):
        with pytest.raises(Category.DoesNotExist):
            django_distcache.get_object(Category, 999_999)
    hits = cache.info()["hits"]
    with pytest.raises(Category.DoesNotExist):
        django_distcache.get_object(Category, 999_999)
    assert cache.info()["hits"] == hits + 1


def test_a_from_db_override_builds_each_hit(l1, monkeypatch):  # noqa: F811
    def from_db(cls, db, field_names, values):
        instance = models.Model.from_db.__func__(cls, db, field_names, values)
        instance.loaded_from = db
        return instance

    monkeypatch.setattr(Product, "from_db", classmethod(from_db))
    django_distcache.register(Product, near_cache=True)
    product = Product.objects.create(name="pen", attributes={"colours": ["blue"]})
    settled(l1)
    in_l1(l1, Product, product.pk)
    hit = django_distcache.get_object(Product, product.pk)
    assert hit.loaded_from == "default"
    hit.attributes["colours"].append("red")
    assert django_distcache.get_object(Product, product.pk).attributes == {"colours": ["blue"]}


def test_near_hits_of_every_thread_reach_the_statistics(l1):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(l1)
    in_l1(l1, Category, category.pk)
    stats.flush()
    before = stats.snapshot()
    counted = {row["namespace"]: row for row in before["namespaces"]}
    start = counted.get("testapp.category", {}).get("near_hits", 0)

    def read(times: int) -> None:
        for _ in range(times):
            django_distcache.get_object(Category, category.pk)

    threads = [threading.Thread(target=read, args=(250,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # ended threads: their counts must not be lost
    read(100)
    assert stats.flush() is True
    assert stats.local_counts().get(("testapp.category", "near_hits"), 0) == 0
    counted = {row["namespace"]: row for row in stats.snapshot()["namespaces"]}
    assert counted["testapp.category"]["near_hits"] - start == 1100


def test_near_hits_count_toward_hot_keys(l1, settings):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    hot, cold = Category.objects.create(name="hot"), Category.objects.create(name="cold")
    settled(l1)
    in_l1(l1, Category, hot.pk)
    in_l1(l1, Category, cold.pk)
    for _ in range(1600):
        django_distcache.get_object(Category, hot.pk)
    for _ in range(10):
        django_distcache.get_object(Category, cold.pk)
    hotkeys.flush()  # what the background flusher did not send yet
    counts = dict(hotkeys.hottest("testapp.category"))
    # Sampled about once in 16 hits with weight 16: about 1,600 (the chance of leaving
    # these bounds is below one in a million).
    assert 800 <= counts[str(hot.pk)] <= 2400
    assert counts.get(str(cold.pk), 0) < 800
    assert instances.HOT_KEY_SAMPLE == 16


def test_a_transaction_that_wrote_a_dependency_calls_the_function_not_l1(l1):  # noqa: F811
    calls = []

    @django_distcache.cached(depends_on=[Category], near_cache=True)
    def names() -> list[str]:
        calls.append(1)
        return list(Category.objects.order_by("pk").values_list("name", flat=True))

    Category.objects.create(name="a")
    settled(l1)
    names()
    names()  # the first read made the generations: this one fills L1
    hits = l1.info()["hits"]
    assert names() == ["a"]
    assert l1.info()["hits"] == hits + 1
    with transaction.atomic():
        Category.objects.create(name="b")
        assert names() == ["a", "b"]
        transaction.set_rollback(True)
    assert names() == ["a"]
    assert len(calls) == 2


def test_a_forked_child_makes_its_own_plans(l1):  # noqa: F811
    """A plan starts the statistics thread when it is made: a child, which has none,
    makes its plans (and so starts its thread) again."""
    import os

    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(l1)
    in_l1(l1, Category, category.pk)
    for _ in range(100):
        django_distcache.get_object(Category, category.pk)  # samples the parent keeps
    assert instances._plans
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not instances._plans and not instances._samples else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert instances._plans


def test_what_a_caller_changes_on_a_hit_is_not_what_the_next_hit_gets(l1):  # noqa: F811
    django_distcache.register(Product, near_cache=True)
    product = Product.objects.create(
        name="pen", attributes={"colours": ["blue"], "size": {"mm": 5}, "flat": 1}
    )
    settled(l1)
    in_l1(l1, Product, product.pk)
    first = django_distcache.get_object(Product, product.pk)
    first.name = "changed"
    first.attributes["colours"].append("red")
    first.attributes["size"]["mm"] = 9
    first.attributes["flat"] = 2
    first.attributes["new"] = True
    first._state.db = "other"
    hits = l1.info()["hits"]
    second = django_distcache.get_object(Product, product.pk)
    assert l1.info()["hits"] == hits + 1
    assert second is not first
    assert second._state is not first._state
    assert second.name == "pen"
    assert second.attributes == {"colours": ["blue"], "size": {"mm": 5}, "flat": 1}
    assert (second._state.db, second._state.adding) == ("default", False)
    assert list(vars(second)) == ["_state", *(f.attname for f in Product._meta.concrete_fields)]


def test_a_flat_json_dict_is_copied_on_each_hit(l1):  # noqa: F811
    django_distcache.register(Product, near_cache=True)
    product = Product.objects.create(name="pen", attributes={"i": 1})
    settled(l1)
    in_l1(l1, Product, product.pk)
    first = django_distcache.get_object(Product, product.pk)
    first.attributes["i"] = 2
    assert django_distcache.get_object(Product, product.pk).attributes == {"i": 1}


@pytest.mark.parametrize("order", ["int first", "bool first"])
def test_a_text_pk_spelled_as_an_int_or_a_bool_hits_its_own_row(l1, order):  # noqa: F811
    from tests.shapes.models import Code

    django_distcache.register(Code, near_cache=True)
    Code.objects.create(code="1", meaning="one")
    Code.objects.create(code="True", meaning="true")
    settled(l1)
    in_l1(l1, Code, "1")
    in_l1(l1, Code, "True")
    spellings = [1, True] if order == "int first" else [True, 1]
    for _ in range(2):
        for pk in spellings:
            expected = "one" if pk is not True else "true"
            assert django_distcache.get_object(Code, pk).meaning == expected


def test_a_proxy_is_served_from_its_concrete_models_entries(l1):  # noqa: F811
    from tests.shapes.models import LocalPlace, Place

    django_distcache.register(Place, near_cache=True)
    place = Place.objects.create(name="cafe")
    settled(l1)
    in_l1(l1, LocalPlace, place.pk)
    hits = l1.info()["hits"]
    local = django_distcache.get_object(LocalPlace, place.pk)
    plain = django_distcache.get_object(Place, place.pk)
    assert (type(local), type(plain)) == (LocalPlace, Place)
    assert local.name == plain.name == "cafe"
    assert l1.info()["hits"] == hits + 2


def test_a_registration_made_again_is_followed_at_once(l1):  # noqa: F811
    from django_distcache import registry

    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(l1)
    in_l1(l1, Category, category.pk)
    django_distcache.register(Category)  # without the near cache
    hits = l1.info()["hits"]
    assert django_distcache.get_object(Category, category.pk).name == "a"
    assert l1.info()["hits"] == hits
    django_distcache.register(Category, near_cache=True)
    in_l1(l1, Category, category.pk)
    del registry._configs[Category]
    with pytest.raises(registry.NotRegistered):
        django_distcache.get_object(Category, category.pk)


def test_the_key_texts_a_plan_remembers_are_bounded(l1, monkeypatch):  # noqa: F811
    monkeypatch.setattr(instances, "KEYS_REMEMBERED", 3)
    django_distcache.register(Category, near_cache=True)
    categories = [Category.objects.create(name=str(i)) for i in range(5)]
    settled(l1)
    for category in categories:
        in_l1(l1, Category, category.pk)
    for category in categories:
        assert django_distcache.get_object(Category, category.pk).name == category.name
        assert django_distcache.get_object(Category, str(category.pk)).name == category.name
    assert 0 < len(instances._plans[Category].keys["default"]) <= 3


class ReadsFromOther:
    """A router that sends every read to ``other``."""

    def db_for_read(self, model, **hints):
        return "other"


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_a_router_added_later_chooses_the_database_of_a_hit(l1, settings):  # noqa: F811
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="default's")
    Category.objects.using("other").create(pk=category.pk, name="other's")
    settled(l1)
    in_l1(l1, Category, category.pk)
    settings.DATABASE_ROUTERS = [*settings.DATABASE_ROUTERS, f"{__name__}.ReadsFromOther"]
    for _ in range(3):
        read = django_distcache.get_object(Category, category.pk)
        assert (read.name, read._state.db) == ("other's", "other")
    from_default = django_distcache.get_object(Category, category.pk, using="default")
    assert from_default.name == "default's"


def test_no_hit_is_kept_for_hot_keys_when_they_are_off(settings):
    settings.DISTCACHE = {**settings.DISTCACHE, "HOT_KEYS_SIZE": 0}
    cache = near.near_cache()  # started under these settings
    wait_for(lambda: cache.live)
    django_distcache.register(Category, near_cache=True)
    category = Category.objects.create(name="a")
    settled(cache)
    in_l1(cache, Category, category.pk)
    hotkeys.reset_local()
    for _ in range(200):
        django_distcache.get_object(Category, category.pk)
    assert not instances._samples
    near.reset()
