"""Several independent Redis servers behind a hash ring: keys routed, batches sent per node."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis import Redis

from django_distcache.redis.ring import VIRTUAL_NODES, HashRing


class ShardedRedis:
    """Route each key to one of several Redis servers; multi-key reads go per node at once.

    Single-key commands: ``client_for(key).<command>(key, ...)``. Node names default to
    the servers' URLs, so every process given the same URLs routes keys alike.
    """

    def __init__(self, clients: Mapping[str, Redis], vnodes: int = VIRTUAL_NODES) -> None:
        self._clients = dict(clients)
        self.ring = HashRing(self._clients, vnodes)

    @classmethod
    def from_urls(cls, urls: Iterable[str], **options: Any) -> ShardedRedis:
        """One client per URL (``options`` go to each ``Redis.from_url``)."""
        return cls({url: Redis.from_url(url, **options) for url in urls})

    @property
    def clients(self) -> dict[str, Redis]:
        """The clients by node name."""
        return dict(self._clients)

    def add_node(self, name: str, client: Redis) -> None:
        """Add a server: about 1/N of the keys now belong to it (and read as misses)."""
        self.ring.add(name)
        self._clients[name] = client

    def remove_node(self, name: str) -> None:
        """Remove a server: its keys now belong to the others (and read as misses)."""
        self.ring.remove(name)
        del self._clients[name]

    def node_for(self, key: str) -> str:
        return self.ring.node_for(key)

    def client_for(self, key: str) -> Redis:
        """The client of the server holding ``key``."""
        return self._clients[self.ring.node_for(key)]

    def keys_by_node(self, keys: Iterable[str]) -> dict[str, list[str]]:
        return self.ring.keys_by_node(keys)

    def mget(self, keys: Sequence[str]) -> list[Any]:
        """Values of ``keys`` (None when missing), in order: one MGET per node, at once."""
        groups = self.keys_by_node(keys)
        replies = self.fan_out({name: ("MGET", *group) for name, group in groups.items()})
        found: dict[str, Any] = {}
        for name, group in groups.items():
            found.update(zip(group, replies[name], strict=True))
        return [found[key] for key in keys]

    def delete(self, *keys: str) -> int:
        """Delete ``keys`` wherever they live: one DEL per node, at once."""
        groups = self.keys_by_node(keys)
        replies = self.fan_out({name: ("DEL", *group) for name, group in groups.items()})
        return sum(replies.values())

    def fan_out(self, commands: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """Send one command to each named node, then read every reply: the trips overlap.

        NOTE: one connection per node is held until all replies are read; the raw reply
        is returned (no redis-py response callback), as for MGET and DEL.
        """
        held: list[tuple[str, Any, Any]] = []
        try:
            for name, command in commands.items():
                pool = self._clients[name].connection_pool
                connection = pool.get_connection()
                held.append((name, pool, connection))
                connection.send_command(*command)
            return {name: connection.read_response() for name, _, connection in held}
        except BaseException:
            # A reply may be left unread on any of them: none is reused.
            for _, _, connection in held:
                connection.disconnect()
            raise
        finally:
            for _, pool, connection in held:
                pool.release(connection)
