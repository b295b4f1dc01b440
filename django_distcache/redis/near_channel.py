"""The near cache's messages in Redis: their channel and sequence, and the server to hear them on.

Every invalidation is published with the next number of one sequence, on one channel
(``lua/bump.lua`` on one Redis; ``lua/near_publish.lua`` on a Redis Cluster, see
``routed.bump``). The sequence shares the outbox's hash tag, so on a cluster it lives on
the primary of that slot, which numbers and publishes every invalidation: a subscriber
connected there hears each message from the server that numbered it.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import ConnectionPool, Redis
from redis.exceptions import RedisError

from django_distcache import keys
from django_distcache.conf import DistcacheSettings, get_settings
from django_distcache.redis.client import connection_kwargs, get_redis, on_cluster
from django_distcache.redis.routed import is_cluster

logger = logging.getLogger("django_distcache")

_names: tuple[DistcacheSettings | None, tuple[str, str]] = (None, ("", ""))


def channel_names() -> tuple[str, str]:
    """(channel, sequence key) of the near cache's messages.

    Pub/sub is one namespace for the whole server (the whole cluster, whose only db is 0),
    so the channel names the db index.
    """
    global _names
    conf = get_settings()
    if _names[0] is not conf:
        # NOTE: from the settings on a cluster: its client connects when made, and the
        # near cache starts (so this runs) whether or not the cluster can be reached.
        db = 0 if on_cluster() else get_redis().connection_pool.connection_kwargs.get("db", 0)
        prefix = keys.prefix()
        # The outbox's tag: on a cluster, the call that acknowledges an invalidation's
        # outbox row numbers and publishes it (one slot, one node).
        _names = (conf, (f"{prefix}:near:db{db}", f"{{{prefix}:outbox}}:near:seq"))
    return _names[1]


def _pools() -> list[Any]:
    """The connection pools to publish on: one Redis's, or each primary's of a cluster."""
    client = get_redis()
    if not is_cluster(client):
        return [client.connection_pool]
    return [client.get_redis_connection(node).connection_pool for node in client.get_primaries()]


def publish_unnumbered(generations: list[str], entries: list[str]) -> None:
    """Tell every near cache to empty itself (an unnumbered message): Redis answered but
    refused an invalidation, or, on a cluster, part of one may have been applied without
    being published. Best effort, one PUBLISH (allowed on a read-only replica; on a
    cluster the first primary that takes it, which forwards it to every node), past the
    circuit breaker, which may just have opened.
    """
    channel, _sequence = channel_names()
    message = "-\n" + " ".join(generations) + "\n" + " ".join(entries)
    try:
        pools = _pools()
    except RedisError:  # no client of the cluster (out of reach when it was to be made)
        pools = []
    for pool in pools:
        try:
            Redis(connection_pool=pool).publish(channel, message)
        except RedisError:
            continue
        return
    logger.warning("django_distcache could not tell the near caches to empty themselves")


def subscriber_client(timeout: float, name: str) -> Redis:
    """A client of its own (its own pool, named ``name``) of the server whose messages a
    subscriber hears: the one Redis, or the cluster's primary holding the sequence."""
    client = get_redis()
    if is_cluster(client):
        node = client.get_node_from_key(channel_names()[1])
        pool = client.get_redis_connection(node).connection_pool
    else:
        pool = client.connection_pool
    kwargs = connection_kwargs(pool, timeout)
    kwargs["client_name"] = name
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))


class Subscription:
    """One subscriber's connection: the channel's messages, a ping while it is quiet, and
    the sequence's value (on a second connection of its own: a subscribed one takes no GET).
    """

    def __init__(self, channel: str, timeout: float, name: str) -> None:
        self._client = subscriber_client(timeout, name)
        self._pubsub = self._client.pubsub()
        self._pubsub.subscribe(channel)

    def message(self, timeout: float) -> dict[str, Any] | None:
        """The next message (a subscription's confirmation too), or None after ``timeout``."""
        message: dict[str, Any] | None = self._pubsub.get_message(timeout=timeout)
        return message

    def heartbeat(self) -> None:
        """Ask for a pong (it comes as a message): the connection is alive if it does."""
        self._pubsub.ping()

    def sequence(self, key: str) -> int:
        """The sequence's value now (0 if it does not exist)."""
        return int(self._client.get(key) or 0)

    def close(self) -> None:
        """Close its connections (a blocked read ends at once)."""
        self._client.connection_pool.disconnect()


def refresh_topology() -> None:
    """On a cluster, read the slot table again (the sequence's primary may have changed:
    a failover, a resharding). Best effort."""
    try:
        client = get_redis()
        if is_cluster(client):
            client.nodes_manager.initialize()
    except Exception:  # redis-py raises RedisClusterException too; tried again later
        logger.debug("django_distcache: the near cache could not read the slot table")
