"""factory-boy factories of the test models."""

from decimal import Decimal

import factory

from tests.testapp.models import Category, Document, Product, Tag


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"category {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"product {n}")
    price = Decimal("9.99")
    stock = 10
    category = factory.SubFactory(CategoryFactory)
    attributes = factory.LazyFunction(lambda: {"colour": "red"})


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    title = factory.Sequence(lambda n: f"document {n}")
