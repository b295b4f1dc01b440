"""The benchmarks' PostgreSQL database: created, migrated and filled with products."""

from __future__ import annotations

import os

# make bench's quick mode sets fewer rows (in a database of its own)
ROWS = int(os.environ.get("DISTCACHE_BENCH_ROWS", "10000"))


def ensure_database() -> None:
    """Create the benchmark database on the local PostgreSQL if it is missing."""
    import psycopg
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare_products(rows: int = ROWS) -> list[int]:
    """Set Django up, migrate, make sure ``rows`` products exist; their primary keys."""
    import django

    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.testapp.models import Product

    if Product.objects.count() != rows:
        Product.objects.all().delete()
        Product.objects.bulk_create(
            Product(name=f"product {i}", stock=i, attributes={"i": i}) for i in range(rows)
        )
    return list(Product.objects.order_by("pk").values_list("pk", flat=True))
