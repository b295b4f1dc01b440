"""A light, realistic load on the running shop: popular pages often, a few writes."""

import random
import time
import urllib.error
import urllib.request
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError
from django.db.models import F

import django_distcache
from shop.factories import ReviewFactory
from shop.models import Category, Product


class Command(BaseCommand):
    help = "Browse the shop over HTTP (Zipf-popular products) and write now and then."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--rate", type=float, default=8.0, help="requests per second")
        parser.add_argument("--seconds", type=float, default=None, help="stop after this long")

    def handle(self, *args, url: str, rate: float, seconds: float | None, **options) -> None:
        rng = random.Random()
        pks = list(Product.objects.values_list("pk", flat=True))
        rng.shuffle(pks)
        # a few products get most of the visits, as in a real shop
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(pks))]
        slugs = list(Category.objects.values_list("slug", flat=True))
        deadline = None if seconds is None else time.monotonic() + seconds
        count = 0
        while deadline is None or time.monotonic() < deadline:
            count += 1
            roll = rng.random()
            if roll < 0.1:
                path = "/"
            elif roll < 0.35:
                path = f"/category/{rng.choice(slugs)}/"
            else:
                path = f"/products/{rng.choices(pks, weights)[0]}/"
            self.get(url + path)
            if count % 40 == 0:
                self.write(rng, rng.choices(pks, weights)[0])
            time.sleep(1 / rate)

    def get(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            self.stderr.write(f"{url}: {exc}")

    def write(self, rng: random.Random, pk: int) -> None:
        """A review (signals), a sale (queryset update) or a price change (write-through)."""
        try:
            kind = rng.choice(["review", "review", "sale", "price"])
            if kind == "review":
                ReviewFactory(product=Product.objects.get(pk=pk))
            elif kind == "sale":
                Product.objects.filter(pk=pk, stock__gt=0).update(stock=F("stock") - 1)
            else:
                product = Product.objects.get(pk=pk)
                product.price = max(Decimal("1.00"), product.price + rng.choice([-1, 1]))
                django_distcache.write_through(product)
        except DatabaseError as exc:
            self.stderr.write(f"write to product {pk} failed: {exc}")
