"""A Celery app for the test of the snapshot task in a real worker process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("distcache_stats_tests")
app.conf.broker_url = os.environ["DISTCACHE_TEST_BROKER_URL"]
app.conf.task_default_queue = "distcache-stats-tests"
app.conf.broker_connection_retry_on_startup = True
