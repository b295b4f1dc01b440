"""Only ``django_distcache.redis`` talks to Redis: every other module calls its named operations.

The rule, checked on the source with ``ast``: outside ``django_distcache/redis/`` no module
imports redis-py or django-redis, takes a client (``get_redis``, ``get_buffer_redis``,
``get_async_redis``...) or a script, reaches the sending machinery (``wire``, ``routed``,
``once``, ``packed``, ``guard``, ``aio``...), or calls a method that only a Redis client,
pipeline or script has. Catching ``django_distcache.redis.errors.RedisError`` is allowed:
a caller decides what a failure means.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "django_distcache"
REDIS_PACKAGE = PACKAGE / "redis"

# Third-party packages that talk to Redis.
FORBIDDEN_PACKAGES = ("redis", "django_redis")
# What hands out clients, scripts or raw sending, by module of django_distcache.redis.
FORBIDDEN_MODULES = {"aio", "buffer_scripts", "guard", "once", "packed", "routed", "slots", "wire"}
FORBIDDEN_NAMES = {
    "connection_kwargs",
    "get_async_redis",
    "get_buffer_redis",
    "get_client",
    "get_redis",
    "node_client",
    "script",
    "wb_script",
}
# Methods only a redis-py client, pipeline, pub/sub or script has (names that a dict, a
# queryset or a logger also has, such as get, set, delete, exists or info, are left out:
# taking a client at all is what the names above catch).
CLIENT_METHODS = {
    "config_get",
    "eval",
    "evalsha",
    "execute_command",
    "getset",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hmget",
    "hset",
    "lpush",
    "lrange",
    "ltrim",
    "mget",
    "mget_nonatomic",
    "pipeline",
    "ping",
    "pttl",
    "publish",
    "pubsub",
    "register_script",
    "sadd",
    "scan_iter",
    "script_load",
    "smembers",
    "smismember",
    "zincrby",
    "zrange",
    "zrangebyscore",
    "zrevrange",
    "zunionstore",
}


def violations(source: str) -> list[str]:
    """Each place in ``source`` (a module outside ``django_distcache.redis``) that breaks
    the rule, as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden_module(alias.name):
                    found.append(f"{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden_module(node.module):
                found.append(f"{node.lineno}: imports from {node.module}")
            elif node.module.startswith("django_distcache.redis"):
                for alias in node.names:
                    if alias.name in FORBIDDEN_NAMES | FORBIDDEN_MODULES:
                        found.append(f"{node.lineno}: imports {alias.name} from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                found.append(f"{node.lineno}: calls {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_NAMES | CLIENT_METHODS:
                found.append(f"{node.lineno}: calls .{func.attr}()")
    return sorted(found, key=lambda line: int(line.partition(":")[0]))


def _forbidden_module(dotted: str) -> bool:
    """Whether ``dotted`` names redis-py, django-redis or a sending module of ours."""
    return dotted.split(".")[0] in FORBIDDEN_PACKAGES or _redis_module(dotted) in FORBIDDEN_MODULES


def _redis_module(dotted: str) -> str | None:
    """The module of ``django_distcache.redis`` that ``dotted`` names, if any."""
    parts = dotted.split(".")
    if parts[:2] == ["django_distcache", "redis"] and len(parts) > 2:
        return parts[2]
    return None


def _modules_outside_redis() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if REDIS_PACKAGE not in path.parents)


def test_no_module_outside_the_redis_package_talks_to_redis():
    broken = {}
    for path in _modules_outside_redis():
        name = path.relative_to(PACKAGE).as_posix()
        found = violations(path.read_text())
        if found:
            broken[name] = found
    assert not broken, (
        "Only django_distcache/redis/ may send Redis commands; give it a named operation "
        f"and call that instead: {broken}"
    )


def test_the_check_finds_each_kind_of_access():
    source = """
import redis
from redis.exceptions import RedisError
import django_redis
from django_distcache.redis import wire
from django_distcache.redis.client import get_redis
from django_distcache.redis.routed import is_cluster

def send(client, pipe):
    get_buffer_redis().sadd("k", "m")
    pipe.pipeline(transaction=False)
    client.pubsub()
    script("read")(keys=[], args=[])
"""
    found = violations(source)
    assert found == [
        "2: imports redis",
        "3: imports from redis.exceptions",
        "4: imports django_redis",
        "5: imports wire from django_distcache.redis",
        "6: imports get_redis from django_distcache.redis.client",
        "7: imports from django_distcache.redis.routed",
        "10: calls .sadd()",
        "10: calls get_buffer_redis()",
        "11: calls .pipeline()",
        "12: calls .pubsub()",
        "13: calls script()",
    ]


def test_the_redis_errors_and_named_operations_are_allowed():
    source = """
from django_distcache.redis.errors import RedisError
from django_distcache.redis import breaker, counters
from django_distcache.redis.entries import read_entry

def look(key, rows):
    try:
        return read_entry(key), counters.read("k"), rows.get(key), rows.exists()
    except RedisError:
        breaker.is_open()
"""
    assert violations(source) == []
