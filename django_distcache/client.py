"""The one place that gets the Redis connection and the app's Lua scripts."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from django_redis import get_redis_connection

from django_distcache.conf import get_settings

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

SCRIPT_NAMES = ("read", "store", "bump", "release")


@cache
def get_redis() -> Redis:
    """The raw redis-py client behind the configured django-redis cache alias."""
    return get_redis_connection(get_settings().CACHE_ALIAS)


@cache
def _script_source(name: str) -> str:
    return (resources.files("django_distcache") / "lua" / f"{name}.lua").read_text()


@cache
def script(name: str) -> Script:
    """A registered script (EVALSHA, loaded again on NOSCRIPT) by its file name."""
    return get_redis().register_script(_script_source(name))


def reset() -> None:
    """Forget the cached client and scripts (settings changed)."""
    get_redis.cache_clear()
    script.cache_clear()
