"""A worker process of the stale-read stress test: ``python -m tests.stress ROLE SECONDS SEED``.

The writer bumps each row's ``stock`` in committed transactions and then publishes the
committed value; a reader notes the published value before reading through the cache,
so any answer below it is a stale read after commit. Each process runs SECONDS, and
longer on a busy machine until it has done its MINIMUM_OPERATIONS (at most LONGEST s).
"""

import os
import random
import sys
import time

import django

MINIMUM_OPERATIONS = {"writer": 30, "reader": 100}
LONGEST = 90.0


def main() -> None:
    role, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.stress_settings")
    django.setup()
    from django.db import transaction
    from django.db.models import F

    import django_distcache
    from django_distcache.redis.client import get_redis
    from tests.testapp.models import Product

    rng = random.Random(seed)
    redis = get_redis()
    pks = sorted(Product.objects.values_list("pk", flat=True))
    started = time.monotonic()
    operations = stale = 0

    def going_on() -> bool:
        elapsed = time.monotonic() - started
        return elapsed < seconds or (operations < MINIMUM_OPERATIONS[role] and elapsed < LONGEST)

    while going_on():
        pk = rng.choice(pks)
        marker = f"stress:committed:{pk}"
        if role == "writer":
            with transaction.atomic():
                if rng.random() < 0.5:
                    product = Product.objects.select_for_update().get(pk=pk)
                    product.stock += 1
                    product.save()
                else:
                    Product.objects.filter(pk=pk).update(stock=F("stock") + 1)
                committed = Product.objects.get(pk=pk).stock
            redis.set(marker, committed)
            time.sleep(rng.random() * 0.002)
        else:
            floor = int(redis.get(marker) or 0)
            seen = django_distcache.get_object(Product, pk).stock
            if seen < floor:
                stale += 1
                print(f"stale read of {pk}: {seen} < committed {floor}", file=sys.stderr)
        operations += 1
    print(f"{role} operations={operations} stale={stale}")


if __name__ == "__main__":
    main()
