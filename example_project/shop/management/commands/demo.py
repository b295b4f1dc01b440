"""Set up the example shop (migrate, seed, an admin login) and show the cache at work."""

import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, reset_queries
from django.db.models import F
from django.test.utils import CaptureQueriesContext

import django_distcache
from django_distcache import stats, warming, writebehind
from shop.distcache import catalogue_page
from shop.models import Category, Product

ADMIN = "admin"


class Command(BaseCommand):
    help = "Migrate and seed the example shop, print an admin login, show the cache at work."

    def add_arguments(self, parser):
        parser.add_argument("--no-tour", action="store_true", help="Only set up the shop.")

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        call_command("seed_shop", stdout=self.stdout)
        password = self.admin_login()
        self.stdout.write(f"Admin login: {ADMIN} / {password}")
        if not options["no_tour"]:
            self.tour()

    def admin_login(self) -> str:
        """A superuser with a fresh random password (printed, never stored in the repository)."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(
            username=ADMIN, defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

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
        self.stdout.write(
            f"  after 5 increments: get_object says +{cached - before}, "
            f"the database +{stored - before}"
        )
        result = writebehind.flush_write_behind()
        flushed = Product.objects.get(pk=product.pk).views
        self.stdout.write(
            f"  flushed: {result['writes']} writes in {result['rows']} row update; "
            f"the database says +{flushed - before}"
        )

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
        self.stdout.write(
            f"  {run['entries']} of {Product.objects.count()} products cached "
            f"in {run['duration'] * 1000:.0f} ms"
        )
        stats.flush()
        overall = stats.snapshot()["overall"]
        self.stdout.write(
            f"Statistics: {overall['hits']} hits, {overall['misses']} misses in all "
            "(the admin's Cache dashboard shows them per namespace)."
        )
        self.stdout.write(self.style.SUCCESS("Tour done."))
