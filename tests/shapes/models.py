"""Models shaped like real projects': inheritance, proxies, UUID and text keys, through
tables, generic relations, cascades, custom managers."""
# ruff: noqa: DJ008

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Place(models.Model):
    name = models.CharField(max_length=100)
    city = models.CharField(max_length=100, default="")


class Restaurant(Place):
    """Multi-table inheritance: a row in Place and one in Restaurant, sharing the pk."""

    serves_pizza = models.BooleanField(default=False)


class Pizzeria(Restaurant):
    ovens = models.IntegerField(default=1)


class LocalPlace(Place):
    """A proxy: the same table and rows as Place."""

    class Meta:
        proxy = True


class Ticket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    title = models.CharField(max_length=100)


class Code(models.Model):
    """A text primary key that may hold any character."""

    code = models.CharField(max_length=300, primary_key=True)
    meaning = models.CharField(max_length=100)


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    title = models.CharField(max_length=100)
    authors = models.ManyToManyField(Author, through="Authorship", related_name="books")


class Authorship(models.Model):
    """An explicit through model, with its own column."""

    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="writer")


class Note(models.Model):
    """A generic relation's target."""

    text = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey("content_type", "object_id")


class Article(models.Model):
    title = models.CharField(max_length=100)
    notes = GenericRelation(Note)


def default_shelf_id():
    return Shelf.objects.get_or_create(name="default")[0].pk


class Shelf(models.Model):
    name = models.CharField(max_length=100)


class Item(models.Model):
    """Rows Django changes itself when a Shelf goes: each on_delete in turn."""

    name = models.CharField(max_length=100)
    shelf = models.ForeignKey(Shelf, null=True, on_delete=models.SET_NULL, related_name="items")
    fallback = models.ForeignKey(
        Shelf, null=True, default=None, on_delete=models.SET_DEFAULT, related_name="+"
    )
    chosen = models.ForeignKey(
        Shelf, null=True, on_delete=models.SET(default_shelf_id), related_name="+"
    )
    boxed_in = models.ForeignKey(Shelf, null=True, on_delete=models.CASCADE, related_name="boxes")


class Setting(models.Model):
    """Only ever a depends_on target: never registered."""

    key = models.CharField(max_length=50)
    value = models.CharField(max_length=100)


class VisibleManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(hidden=False)


class Post(models.Model):
    """A default manager that hides rows, and a base manager of the user's own."""

    title = models.CharField(max_length=100)
    hidden = models.BooleanField(default=False)

    objects = VisibleManager()
    everything = models.Manager()  # noqa: DJ012

    class Meta:
        base_manager_name = "everything"


class Tally(models.Model):
    """Registered; the benchmark of writes compares it with PlainTally."""

    name = models.CharField(max_length=100)
    group = models.IntegerField(default=0)
    count = models.IntegerField(default=0)


class PlainTally(models.Model):
    """The same columns as Tally, never cached."""

    name = models.CharField(max_length=100)
    group = models.IntegerField(default=0)
    count = models.IntegerField(default=0)
