"""Settings of one system's worker in the mixed benchmark (DISTCACHE_BENCH_SYSTEM)."""

import os

from benchmarks.settings import *  # noqa: F403

SYSTEM = os.environ.get("DISTCACHE_BENCH_SYSTEM", "orm")
_BENCH_REDIS = f"{REDIS_URL}/{BENCH_REDIS_DB}"  # noqa: F405

# Only the measured system is installed: the others' signal receivers and ORM patches
# must not cost anything in its run.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "cacheops"]  # noqa: F405
DISTCACHE = {"KEY_PREFIX": "dcmixed", "TIMEOUT": 3600, "AUTODISCOVER": False}
if SYSTEM == "distcache":
    DISTCACHE["MODELS"] = {"testapp.Product": {}, "testapp.Category": {}}
if SYSTEM == "distcache-near":
    DISTCACHE["MODELS"] = {
        "testapp.Product": {"near_cache": True},
        "testapp.Category": {"near_cache": True},
    }
if SYSTEM == "cacheops":
    INSTALLED_APPS.append("cacheops")
    CACHEOPS_REDIS = _BENCH_REDIS
    CACHEOPS_PREFIX = lambda query: "cacheops-mixed:"  # noqa: E731
    CACHEOPS = {
        "testapp.product": {"ops": "get", "timeout": 3600},
        "testapp.category": {"ops": "get", "timeout": 3600},
    }
if SYSTEM == "cachalot":
    INSTALLED_APPS.append("cachalot")
    CACHALOT_TIMEOUT = 3600
    CACHALOT_ONLY_CACHABLE_TABLES = ["testapp_product", "testapp_category"]
