"""Models the tests cache: a catalogue with a foreign key, a many-to-many and a UUID key."""

import uuid

from django.db import models

from django_distcache import DistcacheManager


class Category(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    stock = models.IntegerField(default=0)
    category = models.ForeignKey(Category, null=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")
    attributes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DistcacheManager()

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    title = models.CharField(max_length=200)
    published = models.DateField(null=True)

    def __str__(self) -> str:
        return self.title


class Uncached(models.Model):
    name = models.CharField(max_length=10)

    def __str__(self) -> str:
        return self.name
