"""Settings of stress-test child processes: the parent's test database."""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["DISTCACHE_STRESS_DB_NAME"]  # noqa: F405

if "DISTCACHE_LEASE_TIMEOUT" in os.environ:
    DISTCACHE = {**DISTCACHE, "LEASE_TIMEOUT": float(os.environ["DISTCACHE_LEASE_TIMEOUT"])}  # noqa: F405
