"""The shop's Celery app: workers run write-behind flushes, warmers and snapshots.

celery -A shopsite worker -Q distcache -l info
celery -A shopsite beat -l info
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")

app = Celery("shopsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
