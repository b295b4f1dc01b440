"""Start a flush on the Celery queue when the transaction that asked for it commits."""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import KombuError

from django_distcache.conf import get_settings

logger = logging.getLogger("django_distcache")


def enqueue_flush(label: str, *, using: str) -> None:
    """Queue a flush of model ``label`` (on commit inside a transaction)."""

    def send() -> None:
        from django_distcache.tasks import flush_write_behind

        try:
            flush_write_behind.apply_async(args=[label], queue=get_settings().WRITE_BEHIND_QUEUE)
        except (KombuError, OSError):
            # NOTE: the writes are safe in Redis; the scheduled flush takes them.
            logger.warning("django_distcache could not queue a flush of %s", label)

    transaction.on_commit(send, using=using)
