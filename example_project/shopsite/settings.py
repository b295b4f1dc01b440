"""Settings of the example shop: SQLite for the data, Redis for django-distcache."""

import os
from pathlib import Path

from django_distcache.beat import TASK_ROUTES, beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "shopsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_distcache",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DATABASE", str(BASE_DIR / "shop.sqlite3")),
    }
}

REDIS_URL = os.environ.get(
    "REDIS_URL", os.environ.get("DISTCACHE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"{REDIS_URL}/1",
    }
}

DISTCACHE = {
    "KEY_PREFIX": os.environ.get("SHOP_CACHE_PREFIX", "shop"),
    "TIMEOUT": 600,
    "MODELS": {"shop.Category": {"timeout": 3600}},
}

# SQLite keeps the demo self-contained; in production use PostgreSQL, where write-behind
# increments are applied exactly once even when a worker dies mid-flush.
SILENCED_SYSTEM_CHECKS = ["distcache.W011"]

# Celery: write-behind flushes, warmers and statistics snapshots on the "distcache" queue.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"{REDIS_URL}/2")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = beat_schedule(warm_every=600, warmers=["catalogue"])
CELERY_TASK_ROUTES = {**TASK_ROUTES}

STATIC_URL = "static/"
