"""Whether this thread's open transaction wrote what a read asks for, asked cheaply on hits.

``pending_touches`` answers it, but first asks Django for the connection: asgiref's
local finds out whether an event loop runs by catching ``asyncio.get_running_loop``'s
exception, about 1.5 us, more than the rest of a near-cache hit. Outside an event
loop the thread's connections are a plain ``threading.local``: read there, a thread
with no connection on ``using``, or outside any transaction, answers no at once.
A model's near-cache hit (``instances.serve``) asks it this way, written out.
"""

from __future__ import annotations

import threading
from asyncio import _get_running_loop
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_distcache.invalidation import pending_touches
from django_distcache.invalidation.transactions import _MANUAL


def _thread_storage() -> Any:
    """This thread's connections by alias (a threading.local), or None when only Django
    can tell (an event loop runs here: they are per task then, or asgiref changed)."""
    if _get_running_loop() is not None:
        return None
    storage = getattr(connections._connections, "_storage", None)  # type: ignore[attr-defined]
    return storage if type(storage) is threading.local else None


def _may_have_written(connection: BaseDatabaseWrapper) -> bool:
    # What pending_touches looks at: an atomic block's hooks, or a manual transaction's.
    return connection.in_atomic_block or getattr(connection, _MANUAL, None) is not None


def touched_on_any(generation_keys: Iterable[str], key: str) -> bool:
    """Whether the open transaction on any database of this thread wrote it."""
    storage = _thread_storage()
    if storage is not None and not any(
        _may_have_written(connection)
        for connection in vars(storage).values()
        if isinstance(connection, BaseDatabaseWrapper)
    ):
        return False
    return any(
        pending_touches(connection.alias, generation_keys, key)
        for connection in connections.all(initialized_only=True)
    )
