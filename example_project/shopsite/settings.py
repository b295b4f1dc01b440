"""Settings of the example shop: SQLite (or DATABASE_URL) for the data, Redis for the cache."""

import os
from pathlib import Path

import dj_database_url

from django_distcache.beat import TASK_ROUTES, beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
# the dashboard shows every time in this zone, and says which it is
TIME_ZONE = os.environ.get("SHOP_TIME_ZONE", "Europe/Paris")
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
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
X_FRAME_OPTIONS = "DENY"

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

# PostgreSQL when DATABASE_URL says so (postgres://user@host/name), else one SQLite file.
SQLITE_PATH = os.environ.get("SHOP_DATABASE", str(BASE_DIR / "shop.sqlite3"))
DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{SQLITE_PATH}", conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # the server, the Celery worker and the traffic generator write at once: wait for locks
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# The Redis server, and the database numbers of the cache and of Celery's broker.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
CACHE_REDIS_DB = int(os.environ.get("SHOP_CACHE_REDIS_DB", "1"))
BROKER_REDIS_DB = int(os.environ.get("SHOP_BROKER_REDIS_DB", "2"))
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"{REDIS_URL}/{CACHE_REDIS_DB}",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
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
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"{REDIS_URL}/{BROKER_REDIS_DB}")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# make demo takes a snapshot every 15 s, so that the charts fill within a minute
CELERY_BEAT_SCHEDULE = beat_schedule(
    warm_every=600,
    warmers=["catalogue"],
    snapshot_every=float(os.environ.get("SHOP_SNAPSHOT_SECONDS", "60")),
)
CELERY_TASK_ROUTES = {**TASK_ROUTES}

STATIC_URL = "static/"
