"""A redis-py connection that counts round trips (requests sent), for tests."""

from __future__ import annotations

import threading

from redis.connection import Connection

_lock = threading.Lock()
sent = 0


class CountingConnection(Connection):
    """A real connection that counts each request sent to the server."""

    def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        global sent
        with _lock:
            sent += 1
        return super().send_packed_command(command, check_health)
