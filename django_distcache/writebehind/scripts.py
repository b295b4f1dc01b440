"""The write-behind Lua scripts: each is ``lua/wb_common.lua`` followed by its own file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from django_distcache.redis.client import get_redis

if TYPE_CHECKING:
    from redis.commands.core import Script


def _source(name: str) -> str:
    return (resources.files("django_distcache.redis") / "lua" / f"{name}.lua").read_text()


@cache
def wb_script(name: str) -> Script:
    """The script ``lua/wb_<name>.lua`` (EVALSHA, loaded again on NOSCRIPT); call it with
    ``client=`` the buffer's client."""
    return get_redis().register_script(_source("wb_common") + _source(f"wb_{name}"))
