"""The Redis errors the rest of the package catches, so that only ``redis/`` imports redis-py.

``RedisError`` is every failure of a command (``breaker.RedisUnavailable`` included);
``ResponseError`` an error reply (Redis is there but refused); ``OutOfMemoryError`` the
reply of a write refused at ``maxmemory``.
"""

from __future__ import annotations

from redis.exceptions import OutOfMemoryError, RedisError, ResponseError

__all__ = ["OutOfMemoryError", "RedisError", "ResponseError"]
