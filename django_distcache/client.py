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

SCRIPT_NAMES = ("read", "store", "bump", "release", "extend")


@cache
def get_redis() -> Redis:
    """The raw redis-py client behind the configured django-redis cache alias."""
    return get_redis_connection(get_settings().CACHE_ALIAS)


@cache
def get_buffer_redis() -> Redis:
    """The raw client of the Redis holding the write-behind buffer.

    NOTE: django-redis's IGNORE_EXCEPTIONS applies to its cache API only; this raw
    client raises every error (out of memory, READONLY) to the caller.
    """
    conf = get_settings()
    return get_redis_connection(conf.WRITE_BEHIND_CACHE_ALIAS or conf.CACHE_ALIAS)


def buffer_shares_cache() -> bool:
    """Whether the buffer lives in the same Redis as the entries (one script does both)."""
    conf = get_settings()
    return (conf.WRITE_BEHIND_CACHE_ALIAS or conf.CACHE_ALIAS) == conf.CACHE_ALIAS


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
    get_buffer_redis.cache_clear()
    script.cache_clear()
