"""Running test code in other threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def in_thread(func: Callable[..., Any], *args: Any) -> threading.Thread:
    """Start ``func(*args)`` in a thread that closes its database connections when done."""

    def run() -> None:
        try:
            func(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def run_in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)`` in another thread (another connection) and return its result."""
    result: list[Any] = []
    in_thread(lambda: result.append(func(*args))).join()
    return result[0]
