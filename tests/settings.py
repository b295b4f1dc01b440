"""Settings of the test project: real Redis, PostgreSQL when reachable, else SQLite."""

import json
import os
from pathlib import Path

from django_distcache.beat import TASK_ROUTES, beat_schedule

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_distcache",
    "tests.testapp",
    "tests.shapes",
]

MIDDLEWARE = [
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

# What scripts/ensure_services.py found (make test, tox); the environment wins.
_SERVICES = BASE_DIR.parent / ".services.env"
if _SERVICES.exists():
    for _line in _SERVICES.read_text().splitlines():
        _name, _, _value = _line.partition("=")
        if _name and _value:
            os.environ.setdefault(_name.strip(), _value.strip())

# Parallel runs on one machine keep apart by suffix (database) and Redis db index.
_SUFFIX = os.environ.get("DISTCACHE_TEST_SUFFIX", "")
REDIS_URL = os.environ.get("DISTCACHE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("DISTCACHE_TEST_REDIS_DB", "9"))

if os.environ.get("DISTCACHE_TEST_DATABASE", "postgresql") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("DISTCACHE_TEST_DB_NAME", "test"),
            "HOST": "127.0.0.1",
            "PORT": int(os.environ.get("DISTCACHE_TEST_DB_PORT", "5432")),
            "USER": os.environ.get("DISTCACHE_TEST_DB_USER", "postgres"),
            "TEST": {"NAME": f"test_distcache{_SUFFIX}"},
        }
    }
    # A second database, for the several-databases tests (created by the tests that ask).
    DATABASES["other"] = {
        **DATABASES["default"],
        "TEST": {"NAME": f"test_distcache_other{_SUFFIX}"},
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "DISTCACHE_TEST_DB_NAME", str(BASE_DIR / f"distcache{_SUFFIX}.sqlite3")
            ),
            # readers and a writer at once, as in the concurrency tests
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Processes started by the tests are given the test database's file.
            "TEST": {
                "NAME": os.environ.get(
                    "DISTCACHE_TEST_DB_NAME", str(BASE_DIR / f"test_distcache{_SUFFIX}.sqlite3")
                )
            },
        }
    }
    DATABASES["other"] = {
        **DATABASES["default"],
        "NAME": str(BASE_DIR / f"distcache_other{_SUFFIX}.sqlite3"),
        "TEST": {"NAME": str(BASE_DIR / f"test_distcache_other{_SUFFIX}.sqlite3")},
    }

# The app's tables (outbox, snapshots) on the main database only, as most projects keep them.
DATABASE_ROUTERS = ["tests.routers.DistcacheTablesOnDefault"]

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"{REDIS_URL}/{REDIS_DB}",
    },
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

DISTCACHE = {
    "KEY_PREFIX": "dctest",
    "TIMEOUT": 300,
    # Worker processes started by the tests get shorter leases and smaller batches.
    **json.loads(os.environ.get("DISTCACHE_TEST_OVERRIDES", "{}")),
}

# A test running on the Redis Cluster (tests/cluster.py's app_cache) gives the processes it
# starts the cluster's nodes: their entries are on it too.
CLUSTER_ALIAS = "distcache_cluster"
if os.environ.get("DISTCACHE_TEST_CLUSTER"):
    CACHES[CLUSTER_ALIAS] = {
        "BACKEND": "django_distcache.redis.cluster.RedisClusterCache",
        "LOCATION": os.environ["DISTCACHE_TEST_CLUSTER"],
    }
    DISTCACHE["CACHE_ALIAS"] = CLUSTER_ALIAS

# Celery (tests/celery_app.py): a real Redis broker on its own db indexes.
_CELERY_DB = int(os.environ.get("DISTCACHE_TEST_CELERY_DB", "12"))
# A worker test may run on another broker (RabbitMQ): DISTCACHE_TEST_BROKER_URL.
CELERY_BROKER_URL = os.environ.get("DISTCACHE_TEST_BROKER_URL", f"{REDIS_URL}/{_CELERY_DB}")
CELERY_RESULT_BACKEND = f"{REDIS_URL}/{_CELERY_DB + 1}"
# Results name the worker that ran the task (what the worker tests check the split by).
CELERY_RESULT_EXTENDED = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = TASK_ROUTES
# The ready schedule (BEAT_SCHEDULE), or beat_schedule(**kwargs) for a test's beat process.
CELERY_BEAT_SCHEDULE = beat_schedule(**json.loads(os.environ.get("DISTCACHE_TEST_BEAT", "{}")))
