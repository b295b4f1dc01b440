"""The shop's Celery app: workers run write-behind flushes, warmers and snapshots.

From example_project/, with the project's virtual environment:
../.venv/bin/celery -A shopsite worker -Q distcache,celery -l info
../.venv/bin/celery -A shopsite beat -l info
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")

app = Celery("shopsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
