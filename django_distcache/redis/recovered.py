"""Every new connection checks that its Redis server has been recovered since it started.

A Redis restarted from an older snapshot, or a replica promoted before it received the
last invalidations, answers like any other: a process that saw no error would trust it.
So every connection the app opens asks, before its first command, whether this server
carries the app's *recovered* marker: a Lua script loaded with ``SCRIPT LOAD`` once the
breaker's recovery hooks (the lost-state check and the outbox replay) have run against
it. Redis 7 neither persists loaded scripts (RDB or AOF) nor replicates them, so a
server that restarted, or a replica that was promoted, never has it: the first
connection to it runs the recovery (in a thread of its own) and loads the marker; the
connections after it find the marker and go on.

NOTE: the cost is one ``SCRIPT EXISTS`` round trip per new connection, nothing per
command; the recovery runs once per server start (once per process that connects
before the marker is loaded).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from django_distcache.redis import breaker

logger = logging.getLogger("django_distcache")

# Seconds a connection waits for the recovery it started (then it fails: the breaker
# opens, and its probe recovers later).
RECOVERY_TIMEOUT = 10.0
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def marker_script(db: Any) -> tuple[str, str]:
    """The marker's Lua body and SHA1 for Redis db ``db`` under this key prefix (two apps
    sharing a server keep their own outboxes, so each recovers and marks on its own)."""
    from django_distcache import keys

    body = f"return 'django-distcache recovered: prefix {keys.prefix()}, db {db or 0}'"
    return body, hashlib.sha1(body.encode()).hexdigest()


def _is_marked(connection: Any) -> bool:
    if connection._sock is None:
        # Closed meanwhile (its pool was disconnected): never reconnect from inside the
        # check, which would check again, in this very call.
        raise RedisConnectionError("the connection was closed while it was being checked")
    _body, sha = marker_script(connection.db)
    connection.send_command("SCRIPT", "EXISTS", sha, check_health=False)
    return bool(connection.read_response()[0])


def _is_replica(connection: Any) -> bool:
    """Whether the server is a replica: a Redis Cluster client also connects to replicas
    (startup nodes, topology), whose state the app never reads; the marker is loaded on
    primaries only, so that a replica promoted later is recovered.
    NOTE: one round trip more, only on a connection to a server without the marker."""
    connection.send_command("ROLE", check_health=False)
    role = connection.read_response()[0]
    return role in (b"slave", "slave")


def _lock(alias: str) -> threading.Lock:
    found = _locks.get(alias)
    if found is None:
        with _locks_lock:
            found = _locks.setdefault(alias, threading.Lock())
    return found


def connect_hook(alias: str, handshake: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """A redis-py ``redis_connect_func`` for the app's connections to cache ``alias``:
    the usual handshake (``handshake``, else the connection's ``on_connect``), then the
    check."""

    def on_connect(connection: Any) -> None:
        if handshake is None:
            connection.on_connect()
        else:
            handshake(connection)
        check(alias, connection)

    return on_connect


def check(alias: str, connection: Any) -> None:
    """Recover ``alias``'s Redis before ``connection`` is used, if it has not been since it
    started. Raises ConnectionError if the recovery fails (the breaker then opens, and its
    probe recovers it later)."""
    if breaker.in_recovery():
        return  # the recovery's own connections (it marks the server when it is done)
    try:
        if _is_marked(connection) or _is_replica(connection):
            return
    except ResponseError:
        # Scripts refused (an ACL without @scripting): the server cannot be marked, so
        # the connection is used as it is (see the docs' Limits).
        logger.debug("django_distcache: cannot check Redis (%s) for lost state", alias)
        return
    lock = _lock(alias)  # one recovery per process; the others wait for it
    if not lock.acquire(timeout=RECOVERY_TIMEOUT + 5):
        raise RedisConnectionError(f"Redis ({alias}) is being recovered by another thread")
    try:
        if _is_marked(connection):
            return
        logger.warning(
            "django_distcache: Redis (%s) has not been recovered since it started (new, "
            "restarted, or a promoted replica); replaying the outbox before using it",
            alias,
        )
        if not breaker.for_alias(alias).recover_now(RECOVERY_TIMEOUT):
            raise RedisConnectionError(
                f"Redis ({alias}) may have lost invalidations and its recovery failed"
            )
    finally:
        lock.release()


def mark_recovered(alias: str) -> None:
    """Recovery hook (the last): load the marker into ``alias``'s Redis."""
    from django_distcache.redis.client import get_client

    client = get_client(alias)
    pool = getattr(client, "connection_pool", None)  # a cluster has one per node, db 0
    body, _sha = marker_script(pool.connection_kwargs.get("db") if pool else 0)
    client.script_load(body)  # NOTE: on a Redis Cluster, every primary
    if pool is None:
        # A cluster's recovery restarted the epoch with a DEL, which tells no near cache
        # (on one Redis the epoch is bumped through bump.lua, which publishes it): every
        # process's near cache empties itself.
        from django_distcache.redis.near_channel import publish_unnumbered

        publish_unnumbered([], [])
