"""Fresh copies of cached values, so no caller can change what another one gets, and sizes."""

from __future__ import annotations

import copy
import datetime
import decimal
import sys
import uuid
from collections.abc import Callable
from typing import Any

# Values no caller can change: shared between hits as they are.
IMMUTABLE: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        decimal.Decimal,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)


def is_immutable(value: Any) -> bool:
    """Whether ``value`` (and all it holds) can be shared between callers."""
    kind = type(value)
    if kind in IMMUTABLE:
        return True
    if kind is tuple or kind is frozenset:
        return all(is_immutable(item) for item in value)
    return False


def fresh(value: Any) -> Any:
    """A copy of ``value`` sharing only its immutable parts.

    NOTE: proportional to the value's size; the common containers are copied by hand,
    which is several times faster than ``copy.deepcopy``.
    """
    kind = type(value)
    if kind in IMMUTABLE:
        return value
    # NOTE: immutable items are kept without a call: most items of a JSON value are.
    if kind is list:
        return [item if type(item) in IMMUTABLE else fresh(item) for item in value]
    if kind is dict:
        return {
            key: item if type(item) in IMMUTABLE else fresh(item) for key, item in value.items()
        }
    if kind is tuple:
        return tuple(fresh(item) for item in value)
    return copy.deepcopy(value)


def copier(value: Any) -> Callable[[Any], Any]:
    """What makes a fresh copy of ``value`` (``fresh``, or a C method where that is
    the same: a dict or list of immutable values is copied by ``dict.copy`` or
    ``list.copy``, with no Python call). For a value nothing changes after this."""
    kind = type(value)
    if kind is dict and all(type(item) in IMMUTABLE for item in value.values()):
        return dict.copy
    if kind is list and all(type(item) in IMMUTABLE for item in value):
        return list.copy
    return fresh


def size_of(value: Any, _depth: int = 0) -> int:
    """Bytes ``value`` takes in memory, counting what it holds (shared parts counted again,
    so an overestimate): what the near cache charges an entry."""
    size = sys.getsizeof(value)
    if _depth > 20:
        return size
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        return size + sum(size_of(item, _depth + 1) for item in value)
    if kind is dict:
        return size + sum(
            size_of(key, _depth + 1) + size_of(item, _depth + 1) for key, item in value.items()
        )
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict):
        return size + size_of(state, _depth + 1)
    return size
