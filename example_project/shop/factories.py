"""factory-boy factories of the shop's realistic demo data."""

from datetime import timedelta

import factory
from django.utils import timezone
from factory import fuzzy

from shop.models import Category, Product, Review, Tag

ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Smart", "Vintage", "Pro", "Travel", "Mini"]
NOUNS = ["Lamp", "Chair", "Kettle", "Backpack", "Speaker", "Notebook", "Mug", "Jacket", "Clock"]
AUTHORS = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Femi", "Greta", "Hiro", "Ines", "Jon"]
OPINIONS = [
    "Exactly as described.",
    "Good value for the price.",
    "Arrived quickly, works well.",
    "Nice, but smaller than I expected.",
    "Would buy again.",
    "Broke after a month.",
]


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Iterator(
        ["Home", "Kitchen", "Outdoor", "Office", "Audio", "Clothing", "Travel", "Garden"]
    )
    slug = factory.LazyAttribute(lambda c: c.name.lower())


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Iterator(["new", "sale", "eco", "bestseller", "limited"])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"{ADJECTIVES[n % 9]} {NOUNS[n // 9 % 9]} {n // 81 + 1}")
    price = fuzzy.FuzzyDecimal(4.90, 249.00)
    stock = fuzzy.FuzzyInteger(0, 200)
    category = factory.SubFactory(CategoryFactory)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    author = fuzzy.FuzzyChoice(AUTHORS)
    rating = fuzzy.FuzzyChoice([5, 5, 4, 4, 4, 3, 2, 1])
    text = fuzzy.FuzzyChoice(OPINIONS)
    created_at = factory.LazyFunction(
        lambda: timezone.now() - timedelta(minutes=factory.random.randgen.randint(1, 90 * 24 * 60))
    )
