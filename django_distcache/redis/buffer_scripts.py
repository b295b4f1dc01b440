"""The write-behind Lua scripts: each is ``lua/wb_common.lua`` followed by its own file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from redis.cluster import ClusterPipeline
from redis.commands.core import Script

from django_distcache.redis.client import get_redis
from django_distcache.redis.once import call_once
from django_distcache.redis.routed import is_cluster


def _source(name: str) -> str:
    return (resources.files("django_distcache.redis") / "lua" / f"{name}.lua").read_text()


class BufferScript(Script):
    """A write-behind script: on a Redis Cluster each call is sent once to the node of
    its model's slot (``redis.once``: a buffered increment must not run twice)."""

    def __call__(self, keys: Any = (), args: Any = (), client: Any = None) -> Any:
        client = client if client is not None else self.registered_client
        if is_cluster(client) and not isinstance(client, ClusterPipeline):
            return call_once(client, self, list(keys), list(args))
        return super().__call__(list(keys), list(args), client)


@cache
def wb_script(name: str) -> BufferScript:
    """The script ``lua/wb_<name>.lua`` (EVALSHA, loaded again on NOSCRIPT); call it with
    ``client=`` the buffer's client."""
    return BufferScript(get_redis(), _source("wb_common") + _source(f"wb_{name}"))
