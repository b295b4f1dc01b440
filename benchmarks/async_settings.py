"""Settings of the async benchmark's uvicorn processes (benchmarks/bench_async.py)."""

from benchmarks.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.async_urls"
ALLOWED_HOSTS = ["127.0.0.1"]
DISTCACHE = {
    "KEY_PREFIX": "dcasync",
    "TIMEOUT": 3600,
    "AUTODISCOVER": False,
    "MODELS": {"testapp.Product": {}},
}
# Django's own Redis cache on the same Redis, its connections named in CLIENT LIST.
CACHES = {
    **CACHES,  # noqa: F405
    "builtin": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"{REDIS_URL}/{BENCH_REDIS_DB}",  # noqa: F405
        "KEY_PREFIX": "djasync",
        "TIMEOUT": 3600,
        "OPTIONS": {"client_name": "django-rediscache"},
    },
}
# The views and the cache measured, not the test project's session and auth middleware.
MIDDLEWARE: list[str] = []
# A failed request's traceback in the server's log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
