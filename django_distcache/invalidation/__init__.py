"""Invalidation: ORM write capture, transactions, the explicit calls, one apply funnel."""

from django_distcache.invalidation.api import (
    invalidate,
    invalidate_model,
    invalidate_objects,
    invalidate_tag,
)
from django_distcache.invalidation.apply import PendingInvalidation, apply_invalidation
from django_distcache.invalidation.transactions import pending_touches, schedule_invalidation

__all__ = [
    "PendingInvalidation",
    "apply_invalidation",
    "invalidate",
    "invalidate_model",
    "invalidate_objects",
    "invalidate_tag",
    "pending_touches",
    "schedule_invalidation",
]
