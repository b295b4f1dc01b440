"""Every way a Django user changes rows leaves nothing stale, read four ways.

The write scenarios are those of django-cachalot's and django-cacheops' own invalidation
suites (saves, creates, queryset and bulk writes through any manager, m2m and through
rows, inheritance, proxies, generic relations, cascades, fixtures, historical models),
on the models of ``tests.shapes``. Each scenario caches reads through ``get_object``,
``get_objects``, a ``cached`` function with ``depends_on`` and ``get_or_set``, writes
as a user would (in autocommit and inside ``atomic``), then reads again from another
thread and from the same one: every read must be the database's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, Value
from django.db.models.functions import Concat

import django_distcache
from django_distcache.reads.functions import CachedFunction
from tests.shapes.models import (
    Article,
    Author,
    Authorship,
    Book,
    Code,
    Item,
    LocalPlace,
    Note,
    Pizzeria,
    Place,
    Post,
    Restaurant,
    Setting,
    Shelf,
    Ticket,
)
from tests.testapp.models import Product, Tag
from tests.threads import run_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Case:
    """What a scenario caches, and the write that must invalidate it."""

    write: Callable[[], Any]
    rows: list[tuple[type, Any]] = field(default_factory=list)
    query: Callable[[], Any] | None = None
    depends_on: tuple[Any, ...] = ()


SCENARIOS: dict[str, Callable[[], Case]] = {}


def scenario(setup: Callable[[], Case]) -> Callable[[], Case]:
    SCENARIOS[setup.__name__] = setup
    return setup


def snapshot(model: type, obj: Any) -> Any:
    if obj is None:
        return None
    return tuple((f.attname, getattr(obj, f.attname)) for f in model._meta.concrete_fields)


def read_cached(case: Case, function: CachedFunction | None) -> dict[str, Any]:
    """Every read of the case, through the cache."""
    seen: dict[str, Any] = {}
    for model, pk in case.rows:
        try:
            one = django_distcache.get_object(model, pk)
        except model.DoesNotExist:
            one = None
        seen[f"get_object({model.__name__}, {pk})"] = snapshot(model, one)
        many = list(django_distcache.get_objects(model, [pk]).values())
        seen[f"get_objects({model.__name__}, {pk})"] = snapshot(model, many[0] if many else None)
    if function is not None:
        seen["cached"] = function()
        seen["get_or_set"] = django_distcache.get_or_set(
            f"matrix:{function.namespace}", case.query, depends_on=case.depends_on
        )
    return seen


def read_database(case: Case) -> dict[str, Any]:
    """The same reads, from the database."""
    seen: dict[str, Any] = {}
    for model, pk in case.rows:
        row = snapshot(model, model._default_manager.filter(pk=pk).first())
        seen[f"get_object({model.__name__}, {pk})"] = row
        seen[f"get_objects({model.__name__}, {pk})"] = row
    if case.query is not None:
        seen["cached"] = seen["get_or_set"] = case.query()
    return seen


# Saves, creates and deletes of plain rows, with integer, UUID and text keys.


@scenario
def save_one_row():
    place = Place.objects.create(name="old")

    def write():
        place.name = "new"
        place.save()

    return Case(write, rows=[(Place, place.pk)], query=place_names, depends_on=(Place,))


def place_names():
    return sorted(Place.objects.values_list("name", flat=True))


@scenario
def save_with_update_fields():
    ticket = Ticket.objects.create(title="old")

    def write():
        ticket.title = "new"
        ticket.save(update_fields=["title"])

    return Case(write, rows=[(Ticket, ticket.pk), (Ticket, ticket.pk.hex)])


@scenario
def create_replaces_cached_missing_row():
    return Case(
        lambda: Place.objects.create(pk=90001, name="created"),
        rows=[(Place, 90001)],
        query=place_names,
        depends_on=(Place,),
    )


@scenario
def get_or_create_creates():
    return Case(
        lambda: Code.objects.get_or_create(code="new code", defaults={"meaning": "m"}),
        rows=[(Code, "new code")],
    )


@scenario
def update_or_create_updates():
    Code.objects.create(code="k", meaning="old")
    return Case(
        lambda: Code.objects.update_or_create(code="k", defaults={"meaning": "new"}),
        rows=[(Code, "k")],
    )


@scenario
def instance_delete():
    place = Place.objects.create(name="doomed")
    return Case(place.delete, rows=[(Place, place.pk)], query=place_names, depends_on=(Place,))


@scenario
def queryset_update_by_other_column():
    place = Place.objects.create(name="a", city="old")
    return Case(
        lambda: Place.objects.filter(city="old").update(city="new"),
        rows=[(Place, place.pk)],
    )


@scenario
def queryset_update_with_expression():
    pizzeria = Pizzeria.objects.create(name="p", ovens=1)
    return Case(
        lambda: Pizzeria.objects.filter(pk=pizzeria.pk).update(ovens=F("ovens") + 1),
        rows=[(Pizzeria, pizzeria.pk)],
    )


@scenario
def queryset_delete():
    place = Place.objects.create(name="doomed", city="gone")
    return Case(
        lambda: Place.objects.filter(city="gone").delete(),
        rows=[(Place, place.pk)],
        query=place_names,
        depends_on=(Place,),
    )


@scenario
def bulk_create_replaces_cached_missing_rows():
    return Case(
        lambda: Place.objects.bulk_create([Place(pk=90002, name="b1"), Place(name="b2")]),
        rows=[(Place, 90002)],
        query=place_names,
        depends_on=(Place,),
    )


@scenario
def bulk_create_with_update_conflicts():
    Code.objects.create(code="c1", meaning="old")
    return Case(
        lambda: Code.objects.bulk_create(
            [Code(code="c1", meaning="new")],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["meaning"],
        ),
        rows=[(Code, "c1")],
    )


@scenario
def bulk_update():
    tickets = [Ticket.objects.create(title=f"old {n}") for n in range(3)]

    def write():
        for ticket in tickets:
            ticket.title = "new"
        Ticket.objects.bulk_update(tickets, ["title"])

    return Case(write, rows=[(Ticket, t.pk) for t in tickets])


# Managers other than ours: a default manager that hides rows, the base manager.


@scenario
def update_through_base_manager_hides_row():
    post = Post.objects.create(title="shown")
    return Case(
        lambda: Post._base_manager.filter(pk=post.pk).update(hidden=True),
        rows=[(Post, post.pk)],
    )


@scenario
def update_through_second_manager():
    post = Post.objects.create(title="old")
    return Case(
        lambda: Post.everything.filter(title="old").update(title="new"),
        rows=[(Post, post.pk)],
    )


# Multi-table inheritance: writes through the child or the parent.


@scenario
def child_save_changes_parent_row():
    restaurant = Restaurant.objects.create(name="old")

    def write():
        restaurant.name = "new"
        restaurant.save()

    return Case(write, rows=[(Place, restaurant.pk), (Restaurant, restaurant.pk)])


@scenario
def parent_save_changes_child_row():
    pizzeria = Pizzeria.objects.create(name="old")

    def write():
        place = Place.objects.get(pk=pizzeria.pk)
        place.name = "new"
        place.save()

    return Case(
        write,
        rows=[(Pizzeria, pizzeria.pk), (Restaurant, pizzeria.pk)],
        query=lambda: list(Pizzeria.objects.values_list("name", flat=True)),
        depends_on=(Pizzeria,),
    )


@scenario
def parent_queryset_update_changes_child_row():
    restaurant = Restaurant.objects.create(name="old", city="x")
    return Case(
        lambda: Place.objects.filter(city="x").update(name="new"),
        rows=[(Restaurant, restaurant.pk)],
        query=lambda: list(Restaurant.objects.values_list("name", flat=True)),
        depends_on=(Restaurant,),
    )


@scenario
def child_queryset_update_of_parent_column():
    restaurant = Restaurant.objects.create(name="old", serves_pizza=True)
    return Case(
        lambda: Restaurant.objects.filter(serves_pizza=True).update(name="new"),
        rows=[(Place, restaurant.pk), (Restaurant, restaurant.pk)],
        query=place_names,
        depends_on=(Place,),
    )


@scenario
def child_bulk_update():
    restaurant = Restaurant.objects.create(name="old")

    def write():
        restaurant.name = "new"
        restaurant.serves_pizza = True
        Restaurant.objects.bulk_update([restaurant], ["name", "serves_pizza"])

    return Case(write, rows=[(Place, restaurant.pk), (Restaurant, restaurant.pk)])


@scenario
def child_create_replaces_parent_cached_missing_row():
    return Case(
        lambda: Restaurant.objects.create(id=90003, name="new"),
        rows=[(Place, 90003), (Restaurant, 90003)],
    )


@scenario
def parent_delete_deletes_child():
    pizzeria = Pizzeria.objects.create(name="doomed")
    return Case(
        lambda: Place.objects.get(pk=pizzeria.pk).delete(),
        rows=[(Pizzeria, pizzeria.pk), (Restaurant, pizzeria.pk)],
    )


@scenario
def child_delete_deletes_parent_row():
    restaurant = Restaurant.objects.create(name="doomed")
    return Case(restaurant.delete, rows=[(Place, restaurant.pk)])


# Proxies: one entry and one namespace with the concrete model.


@scenario
def proxy_save_changes_concrete_row():
    place = Place.objects.create(name="old")

    def write():
        local = LocalPlace.objects.get(pk=place.pk)
        local.name = "new"
        local.save()

    return Case(
        write,
        rows=[(Place, place.pk), (LocalPlace, place.pk)],
        query=lambda: sorted(LocalPlace.objects.values_list("name", flat=True)),
        depends_on=(LocalPlace,),
    )


@scenario
def concrete_update_changes_proxy_reads():
    place = Place.objects.create(name="old")
    return Case(
        lambda: Place.objects.filter(pk=place.pk).update(name="new"),
        rows=[(LocalPlace, place.pk)],
        query=lambda: sorted(LocalPlace.objects.values_list("name", flat=True)),
        depends_on=(LocalPlace,),
    )


@scenario
def proxy_delete():
    place = Place.objects.create(name="doomed")
    return Case(
        LocalPlace.objects.filter(pk=place.pk).delete,
        rows=[(Place, place.pk)],
        query=place_names,
        depends_on=("shapes.Place",),
    )


# Many-to-many: automatic and explicit through tables.


def authors_of(book):
    return lambda: sorted(Authorship.objects.filter(book=book).values_list("author__name", "role"))


@scenario
def through_row_created():
    book, author = Book.objects.create(title="b"), Author.objects.create(name="a")
    return Case(
        lambda: Authorship.objects.create(book=book, author=author),
        query=authors_of(book),
        depends_on=(Book,),
    )


@scenario
def through_row_updated():
    book, author = Book.objects.create(title="b"), Author.objects.create(name="a")
    Authorship.objects.create(book=book, author=author)
    return Case(
        lambda: Authorship.objects.filter(book=book).update(role="editor"),
        query=authors_of(book),
        depends_on=(Author,),
    )


@scenario
def through_row_deleted():
    book, author = Book.objects.create(title="b"), Author.objects.create(name="a")
    Authorship.objects.create(book=book, author=author)
    return Case(
        lambda: Authorship.objects.filter(author=author).delete(),
        query=authors_of(book),
        depends_on=(Book,),
    )


@scenario
def m2m_add_through_defaults():
    book, author = Book.objects.create(title="b"), Author.objects.create(name="a")
    return Case(
        lambda: book.authors.add(author, through_defaults={"role": "editor"}),
        query=authors_of(book),
        depends_on=(Book,),
    )


@scenario
def m2m_rows_go_with_a_deleted_side():
    book, author = Book.objects.create(title="b"), Author.objects.create(name="a")
    book.authors.add(author)
    return Case(author.delete, query=authors_of(book), depends_on=(Book,))


def tag_names_of(product):
    return lambda: sorted(
        Product.tags.through.objects.filter(product=product).values_list("tag__name", flat=True)
    )


@scenario
def m2m_add():
    product, tag = Product.objects.create(name="p"), Tag.objects.create(name="t")
    return Case(lambda: product.tags.add(tag), query=tag_names_of(product), depends_on=(Product,))


@scenario
def m2m_remove_from_other_side():
    product, tag = Product.objects.create(name="p"), Tag.objects.create(name="t")
    product.tags.add(tag)
    return Case(
        lambda: tag.products.remove(product), query=tag_names_of(product), depends_on=(Product,)
    )


@scenario
def m2m_clear():
    product, tag = Product.objects.create(name="p"), Tag.objects.create(name="t")
    product.tags.add(tag)
    return Case(product.tags.clear, query=tag_names_of(product), depends_on=(Tag,))


@scenario
def m2m_set():
    product = Product.objects.create(name="p")
    first, second = Tag.objects.create(name="t1"), Tag.objects.create(name="t2")
    product.tags.add(first)
    return Case(
        lambda: product.tags.set([second]), query=tag_names_of(product), depends_on=(Product,)
    )


# Reverse foreign keys' bulk paths: queryset updates Django runs itself.


def items_of(shelf):
    return lambda: sorted(Item.objects.filter(shelf=shelf).values_list("name", flat=True))


@scenario
def reverse_fk_add_bulk():
    shelf, item = Shelf.objects.create(name="s"), Item.objects.create(name="i")
    return Case(
        lambda: shelf.items.add(item, bulk=True),
        rows=[(Item, item.pk)],
        query=items_of(shelf),
        depends_on=(Item,),
    )


@scenario
def reverse_fk_remove_bulk():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", shelf=shelf)
    return Case(
        lambda: shelf.items.remove(item, bulk=True),
        rows=[(Item, item.pk)],
        query=items_of(shelf),
        depends_on=(Item,),
    )


@scenario
def reverse_fk_clear_bulk():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", shelf=shelf)
    return Case(lambda: shelf.items.clear(bulk=True), rows=[(Item, item.pk)])


@scenario
def reverse_fk_set_bulk():
    shelf = Shelf.objects.create(name="s")
    old, new = Item.objects.create(name="old", shelf=shelf), Item.objects.create(name="new")
    return Case(
        lambda: shelf.items.set([new], bulk=True),
        rows=[(Item, old.pk), (Item, new.pk)],
        query=items_of(shelf),
        depends_on=(Item,),
    )


# The deletion collector: SET_NULL, SET_DEFAULT, SET(), CASCADE, fast deletes.


@scenario
def delete_sets_null():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", shelf=shelf)
    return Case(shelf.delete, rows=[(Item, item.pk)])


@scenario
def delete_sets_default():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", fallback=shelf)
    return Case(shelf.delete, rows=[(Item, item.pk)])


@scenario
def delete_sets_callable_value():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", chosen=shelf)
    return Case(shelf.delete, rows=[(Item, item.pk)])


@scenario
def delete_cascades():
    shelf = Shelf.objects.create(name="s")
    item = Item.objects.create(name="i", boxed_in=shelf)
    return Case(
        lambda: Shelf.objects.filter(pk=shelf.pk).delete(),
        rows=[(Item, item.pk), (Shelf, shelf.pk)],
    )


@scenario
def fast_delete_of_generic_rows():
    article = Article.objects.create(title="a")
    article.notes.create(text="n")
    return Case(
        lambda: Note.objects.filter(text="n").delete(),
        query=lambda: sorted(article.notes.values_list("text", flat=True)),
        depends_on=(Note,),
    )


@scenario
def generic_relation_created():
    article = Article.objects.create(title="a")
    return Case(
        lambda: article.notes.create(text="n"),
        query=lambda: sorted(article.notes.values_list("text", flat=True)),
        depends_on=(Note,),
    )


@scenario
def generic_relation_goes_with_its_object():
    article = Article.objects.create(title="a")
    Note.objects.create(
        text="n", content_type=ContentType.objects.get_for_model(Article), object_id=article.pk
    )
    return Case(
        article.delete,
        rows=[(Article, article.pk)],
        query=lambda: sorted(Note.objects.values_list("text", flat=True)),
        depends_on=(Note,),
    )


# Models that are only depends_on targets; the user model by its setting.


@scenario
def dependency_only_model_updated():
    Setting.objects.create(key="k", value="old")
    return Case(
        lambda: Setting.objects.filter(key="k").update(value="new"),
        query=lambda: dict(Setting.objects.values_list("key", "value")),
        depends_on=(Setting,),
    )


@scenario
def user_model_by_its_setting():
    user = get_user_model().objects.create(username="u", first_name="old")

    def write():
        user.first_name = "new"
        user.save()

    return Case(
        write,
        query=lambda: list(get_user_model().objects.values_list("first_name", flat=True)),
        depends_on=(settings.AUTH_USER_MODEL,),
    )


# Writes outside the application's code: fixtures and data migrations.


@scenario
def loaddata_overwrites_rows():
    place = Place.objects.create(name="old")

    def write():
        fixture = settings.BASE_DIR / f"matrix_fixture_{place.pk}.json"
        rows = [{"model": "shapes.place", "pk": place.pk, "fields": {"name": "loaded"}}]
        fixture.write_text(json.dumps(rows))
        try:
            call_command("loaddata", str(fixture), verbosity=0)
        finally:
            fixture.unlink()

    return Case(write, rows=[(Place, place.pk)], query=place_names, depends_on=(Place,))


@scenario
def flush_empties_every_table():
    place = Place.objects.create(name="gone after flush")
    return Case(
        lambda: call_command("flush", interactive=False, verbosity=0),
        rows=[(Place, place.pk)],
        query=place_names,
        depends_on=(Place,),
    )


@scenario
def data_migration_with_historical_model():
    restaurant = Restaurant.objects.create(name="old")

    def write():
        state = MigrationExecutor(connection).loader.project_state(("shapes", "0001_initial"))
        historical = state.apps.get_model("shapes", "Place")
        historical.objects.filter(pk=restaurant.pk).update(name=Concat(Value("mig "), "name"))
        historical.objects.create(name="added")

    return Case(write, rows=[(Restaurant, restaurant.pk)], query=place_names, depends_on=(Place,))


# Last: the scenarios above are collected by now.


@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_write_leaves_no_read_stale(name, in_atomic):
    case = SCENARIOS[name]()
    function = None
    if case.query is not None:
        function = CachedFunction(case.query, None, case.depends_on, ())
    before = read_database(case)
    assert read_cached(case, function) == before
    assert read_cached(case, function) == before  # now from the cache
    if in_atomic:
        with transaction.atomic():
            case.write()
    else:
        case.write()
    after = read_database(case)
    assert after != before, "the scenario's write changed nothing it reads"
    assert run_in_thread(read_cached, case, function) == after
    assert read_cached(case, function) == after
