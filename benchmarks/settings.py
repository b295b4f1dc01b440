"""Settings of the benchmarks: the test models on their own PostgreSQL database."""

import importlib.util
import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DISTCACHE_BENCH_DB", "distcache_bench"),
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": os.environ.get("DISTCACHE_TEST_DB_USER", "postgres"),
    }
}
BENCH_REDIS_DB = int(os.environ.get("DISTCACHE_BENCH_REDIS_DB", "8"))
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"{REDIS_URL}/{BENCH_REDIS_DB}",  # noqa: F405
    }
}
DISTCACHE = {"KEY_PREFIX": "dcbench", "TIMEOUT": 3600}

# django-cacheops patches Django's QuerySet and cursor for every model once it is an installed
# app, so it is installed only where it is measured in-process (bench_reads, which sets
# DISTCACHE_BENCH_CACHEOPS=1 and needs pip install -e '.[bench]'): a plain save() in
# bench_writes, say, must not pay for it. The mixed workload installs each system alone.
HAVE_CACHEOPS = (
    os.environ.get("DISTCACHE_BENCH_CACHEOPS") == "1"
    and importlib.util.find_spec("cacheops") is not None
)
if HAVE_CACHEOPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "cacheops"]  # noqa: F405
    CACHEOPS_REDIS = f"{REDIS_URL}/{BENCH_REDIS_DB}"  # noqa: F405
    CACHEOPS_PREFIX = lambda query: "cacheops-bench:"  # noqa: E731
    CACHEOPS = {"testapp.product": {"ops": "get", "timeout": 3600}}
