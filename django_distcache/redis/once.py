"""A script call on a Redis Cluster sent once: never again after it may have run.

redis-py's cluster client sends a command again after a connection error or a timeout
(its retries, once the slot table is refreshed), which would apply a buffered increment
twice when only the reply was lost. Here the call goes to the node serving its keys'
slot on one connection; it is sent again only when the reply says it did not run
(NOSCRIPT, MOVED, ASK, TRYAGAIN), and a lost reply is raised, as on one Redis, as is
CLUSTERDOWN (a failover under way).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from redis.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from django_distcache.redis.cluster import unavailable_as_redis_error
from django_distcache.redis.guard import guarded

# Replies saying the call did not run, before it is given up (redis-py's own bound).
_ATTEMPTS = 16
_NOT_RUN = (NoScriptError, AskError, TryAgainError, ClusterDownError)


def call_once(
    client: RedisCluster,
    script: Any,
    keys: Sequence[Any],
    args: Sequence[Any],
    then: Sequence[Any] = (),
) -> Any:
    """``script``'s reply; with ``then`` (one more command, sent after it on the same
    connection, e.g. WAIT), [the script's reply, that command's]. Raises error replies;
    a node out of reach trips the breaker of the client's cache."""
    return guarded(getattr(client, "breaker", None), _translated, client, script, keys, args, then)


def _translated(
    client: RedisCluster, script: Any, keys: Sequence[Any], args: Sequence[Any], then: Sequence[Any]
) -> Any:
    with unavailable_as_redis_error():
        return _call(client, script, keys, args, then)


def _call(
    client: RedisCluster, script: Any, keys: Sequence[Any], args: Sequence[Any], then: Sequence[Any]
) -> Any:
    evalsha = ("EVALSHA", script.sha, len(keys), *keys, *args)
    node = client.get_node_from_key(keys[0])
    asking = False
    for attempt in range(_ATTEMPTS):
        commands = [("ASKING",)] if asking else []
        commands += [evalsha, *([tuple(then)] if then else [])]
        replies = _exchange(client, node, commands)[1 if asking else 0 :]
        reply, asking = replies[0], False
        if not isinstance(reply, _NOT_RUN):
            for item in replies:
                if isinstance(item, ResponseError):
                    raise item
            return replies if then else reply
        if isinstance(reply, NoScriptError):
            client.script_load(script.script)  # on every primary
        elif isinstance(reply, MovedError):
            client.nodes_manager.move_slot(reply)
            node = client.get_node_from_key(keys[0])
        elif isinstance(reply, AskError):
            node, asking = client.get_node(reply.host, reply.port), True
        elif isinstance(reply, ClusterDownError):
            # A failover: the caller falls back at once (as when one Redis is down); the
            # next call finds the promoted node.
            client.nodes_manager.initialize()
            raise reply
        else:  # TRYAGAIN: a multi-key call on a slot being migrated; wait a little
            time.sleep(0.05 if attempt < _ATTEMPTS // 2 else 0.25)
    raise reply


def _exchange(client: RedisCluster, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Send ``commands`` to ``node`` on one connection, then read their replies (error
    replies returned as exceptions). A connection that failed is closed and the error
    raised: the commands may have run."""
    if node is None:
        raise ClusterDownError("no node serves the slot")
    pool = client.get_redis_connection(node).connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _command in commands:
            try:
                replies.append(connection.read_response())
            except ResponseError as error:
                replies.append(error)
        return replies
    except RedisError:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
