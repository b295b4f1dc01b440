"""Fill an empty shop with realistic data: categories, tagged products and their reviews."""

import random

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from shop.factories import CategoryFactory, ProductFactory, ReviewFactory, TagFactory
from shop.models import Category, Product, Review, Tag


class Command(BaseCommand):
    help = "Seed the shop with factory-boy data when it is empty."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=600)
        parser.add_argument("--reviews", type=int, default=3000)

    def handle(self, *args, products: int, reviews: int, **options) -> None:
        if Product.objects.exists():
            self.stdout.write(f"Shop already seeded: {self.counts()}.")
            return
        rng = random.Random(7)
        with transaction.atomic():
            categories = Category.objects.bulk_create(CategoryFactory.build_batch(8))
            tags = Tag.objects.bulk_create(TagFactory.build_batch(5))
            built = [ProductFactory.build(category=rng.choice(categories)) for _ in range(products)]
            saved = Product.objects.bulk_create(built)
            links = [
                Product.tags.through(product_id=product.pk, tag_id=tag.pk)
                for product in saved
                for tag in rng.sample(tags, rng.randint(0, 2))
            ]
            Product.tags.through.objects.bulk_create(links)
            # a few popular products get most of the reviews, as in a real shop
            weights = [1 / (rank + 1) for rank in range(len(saved))]
            Review.objects.bulk_create(
                ReviewFactory.build(product=product)
                for product in rng.choices(saved, weights=weights, k=reviews)
            )
        self.stdout.write(f"Seeded {self.counts()}.")

    def counts(self) -> str:
        return (
            f"{Category.objects.count()} categories, {Product.objects.count()} products, "
            f"{Tag.objects.count()} tags, {Review.objects.count()} reviews"
        )
