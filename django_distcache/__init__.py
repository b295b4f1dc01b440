"""Distributed caching for Django on Redis."""

from django_distcache.invalidation import (
    invalidate,
    invalidate_model,
    invalidate_objects,
    invalidate_tag,
)
from django_distcache.querysets import DistcacheManager, DistcacheQuerySet, DistcacheQuerySetMixin
from django_distcache.reads.aio import aget_object, aget_objects, aget_or_set
from django_distcache.reads.functions import cached, get_or_set
from django_distcache.reads.objects import get_object, get_objects
from django_distcache.registry import NotRegistered, register
from django_distcache.views import cache_view
from django_distcache.warming.registry import warmer
from django_distcache.writebehind import (
    WriteBehindFull,
    write_behind,
    write_behind_incr,
    write_through,
)

__version__ = "0.1.0"

__all__ = [
    "DistcacheManager",
    "DistcacheQuerySet",
    "DistcacheQuerySetMixin",
    "NotRegistered",
    "WriteBehindFull",
    "aget_object",
    "aget_objects",
    "aget_or_set",
    "cache_view",
    "cached",
    "get_object",
    "get_objects",
    "get_or_set",
    "invalidate",
    "invalidate_model",
    "invalidate_objects",
    "invalidate_tag",
    "register",
    "warmer",
    "write_behind",
    "write_behind_incr",
    "write_through",
]
