"""A consistent-hash ring with virtual nodes: which of several Redis servers holds a key."""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from collections.abc import Iterable

VIRTUAL_NODES = 160


def _point(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def hash_tag(key: str) -> str:
    """The part of ``key`` that places it: its ``{tag}`` if it has one, as Redis Cluster does.

    Keys with the same tag land on the same node (an entry and its lease, say).
    """
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


class HashRing:
    """Each node owns ``vnodes`` points of a 64-bit ring; a key belongs to the next point.

    Adding a node to N moves about 1/(N+1) of the keys, all of them to the new node.
    """

    def __init__(self, nodes: Iterable[str] = (), vnodes: int = VIRTUAL_NODES) -> None:
        self.vnodes = vnodes
        self._points: list[int] = []
        self._owners: dict[int, str] = {}
        self._nodes: list[str] = []
        for node in nodes:
            self.add(node)

    @property
    def nodes(self) -> list[str]:
        """The node names, in the order they were added."""
        return list(self._nodes)

    def add(self, node: str) -> None:
        """Put ``node`` on the ring (its points are derived from its name alone)."""
        if node in self._nodes:
            raise ValueError(f"{node!r} is already on the ring")
        self._nodes.append(node)
        for index in range(self.vnodes):
            point = _point(f"{node}#{index}".encode())
            # A collision of 64-bit points is as good as impossible; first owner keeps it.
            if point not in self._owners:
                self._owners[point] = node
                bisect.insort(self._points, point)

    def remove(self, node: str) -> None:
        """Take ``node`` off the ring: its keys go to the nodes after its points."""
        self._nodes.remove(node)
        dropped = {point for point, owner in self._owners.items() if owner == node}
        for point in dropped:
            del self._owners[point]
        self._points = [point for point in self._points if point not in dropped]

    def node_for(self, key: str) -> str:
        """The node holding ``key``."""
        if not self._points:
            raise LookupError("the ring has no nodes")
        index = bisect.bisect(self._points, _point(hash_tag(key).encode()))
        return self._owners[self._points[index % len(self._points)]]

    def keys_by_node(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """The keys grouped by node, each group in first-seen order."""
        groups: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            groups[self.node_for(key)].append(key)
        return dict(groups)
