"""The async read path on a Redis Cluster: the sync path, routed per node, in a thread.

NOTE: the app has no asyncio client of a cluster: there a read costs a thread hop
(``sync_to_async``, Django's thread-sensitive thread) besides its round trips, and the
loader of a miss is awaited on the event loop (``async_to_sync`` from that thread).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from django_distcache.invalidation.replicas import read_alias
from django_distcache.reads import readthrough
from django_distcache.redis.client import on_cluster

__all__ = ["afetch_many_in_thread", "aread_alias_in_thread", "on_cluster"]


async def afetch_many_in_thread(
    namespace: str,
    generation_keys: Sequence[str],
    keys: Sequence[str],
    load: Callable[[list[str]], Awaitable[dict[str, Any]]],
    *,
    encode: Any,
    decode: Callable[[bytes], Any],
    timed: bool = False,
) -> dict[str, Any]:
    """``readthrough.fetch_many`` in a thread, ``load`` awaited on this event loop."""

    def fetch() -> dict[str, Any]:
        return readthrough.fetch_many(
            namespace,
            generation_keys,
            keys,
            async_to_sync(load),
            encode=encode,
            decode=decode,
            timed=timed,
        )

    return await sync_to_async(fetch)()


async def aread_alias_in_thread(
    using: str, generation_keys: Sequence[str], keys: Sequence[str]
) -> str:
    """``replicas.read_alias`` in a thread."""
    return await sync_to_async(read_alias)(using, generation_keys, keys)
