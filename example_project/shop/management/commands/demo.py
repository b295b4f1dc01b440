"""Set up the example shop, show the cache at work, then serve the site."""

import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, reset_queries
from django.db.models import F
from django.test.utils import CaptureQueriesContext

import django_distcache
from django_distcache import stats, warming, writebehind
from shop.distcache import catalogue_page
from shop.models import Category, Product, Tag


class Command(BaseCommand):
    help = "Migrate and seed the example shop, show cache hits and invalidation, run the server."

    def add_arguments(self, parser):
        parser.add_argument("--no-server", action="store_true", help="Stop after the tour.")
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        self.seed()
        self.tour()
        if not options["no_server"]:
            self.stdout.write(
                f"\nServing http://{options['addrport']}/ (admin: demo / demo). Ctrl-C stops.\n"
            )
            call_command("runserver", options["addrport"], use_reloader=False)

    def seed(self):
        if not Product.objects.exists():
            tags = [Tag.objects.create(name=n) for n in ("new", "sale", "eco")]
            for c in range(3):
                category = Category.objects.create(name=f"Category {c + 1}")
                products = Product.objects.bulk_create(
                    Product(
                        name=f"Product {c + 1}.{i + 1}",
                        price=Decimal("9.90") + i,
                        stock=10 * i,
                        category=category,
                    )
                    for i in range(5)
                )
                for i, product in enumerate(products):
                    product.tags.add(tags[i % len(tags)])
        user_model = get_user_model()
        if not user_model.objects.filter(username="demo").exists():
            user_model.objects.create_superuser("demo", "demo@example.com", "demo")

    def timed(self, label, func):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            value = func()
            elapsed = (time.perf_counter() - started) * 1e6
        self.stdout.write(f"  {label:<46} {elapsed:8.0f} us  {len(queries)} SQL queries")
        return value

    def write_behind_tour(self, product):
        self.stdout.write("Write-behind (page views counted in Redis, flushed in batches):")
        before = Product.objects.get(pk=product.pk).views
        for _ in range(5):
            django_distcache.write_behind_incr(Product, product.pk, "views")
        cached = django_distcache.get_object(Product, product.pk).views
        stored = Product.objects.get(pk=product.pk).views
        self.stdout.write(f"  after 5 increments: get_object says {cached}, the database {stored}")
        result = writebehind.flush_write_behind()
        flushed = Product.objects.get(pk=product.pk).views
        self.stdout.write(
            f"  flushed: {result['writes']} writes in {result['rows']} row update; "
            f"the database says {flushed}"
        )
        assert flushed == before + 5

    def tour(self):
        product = Product.objects.order_by("pk").first()
        django_distcache.invalidate(Product)
        django_distcache.invalidate(Category)
        self.stdout.write("get_object(Product, pk):")
        self.timed(
            "first read (miss: loads from the database)",
            lambda: django_distcache.get_object(Product, product.pk),
        )
        self.timed(
            "second read (hit: one Redis round trip)",
            lambda: django_distcache.get_object(Product, product.pk),
        )
        self.stdout.write("@cached catalogue_page():")
        self.timed("first call (miss)", lambda: catalogue_page())
        self.timed("second call (hit)", lambda: catalogue_page())
        self.stdout.write("A committed write invalidates what depends on it:")
        product.price += 1
        product.save()
        fresh = self.timed(
            "get_object after save() (miss, fresh row)",
            lambda: django_distcache.get_object(Product, product.pk),
        )
        self.stdout.write(f"  price is now {fresh.price} (the saved value)")
        rows = self.timed("catalogue_page() after save() (miss)", lambda: catalogue_page())
        shown = next(r["price"] for r in rows if r["id"] == product.pk)
        self.stdout.write(f"  catalogue shows {shown}")
        Product.objects.filter(pk=product.pk).update(stock=F("stock") + 5)
        updated = self.timed(
            "get_object after queryset update() (miss)",
            lambda: django_distcache.get_object(Product, product.pk),
        )
        self.stdout.write(
            f"  stock is now {updated.stock} (DistcacheManager invalidates bulk paths)"
        )
        self.write_behind_tour(product)
        self.stdout.write("Warming (the 'catalogue' warmer, also on the beat schedule):")
        (run,) = warming.warm(["catalogue"])
        self.stdout.write(f"  {run['entries']} products cached in {run['duration'] * 1000:.0f} ms")
        stats.flush()
        overall = stats.snapshot()["overall"]
        self.stdout.write(
            f"Statistics: {overall['hits']} hits, {overall['misses']} misses in all "
            "(the admin's Cache dashboard shows them per namespace)."
        )
        self.stdout.write(self.style.SUCCESS("Tour done."))
