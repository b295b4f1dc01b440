"""Commands through the circuit breaker: checked before, and an error saying Redis cannot
be reached opens it (``breaker.Breaker.trip`` decides which errors do)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import RedisError

from django_distcache.redis.breaker import Breaker, ClientBreaker

T = TypeVar("T")


def guarded(
    breaker: Breaker | ClientBreaker | None, call: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """``call(*args, **kwargs)`` behind ``breaker`` (unguarded when None)."""
    if breaker is None:
        return call(*args, **kwargs)
    breaker.check()
    try:
        return call(*args, **kwargs)
    except RedisError as error:
        breaker.trip(error)
        raise


def guard_execute(pipe: Any, breaker: Breaker | ClientBreaker) -> Any:
    """``pipe`` with its ``execute`` behind ``breaker`` (a pipeline made by another class)."""
    pipe.execute = partial(guarded, breaker, pipe.execute)
    return pipe


class Guarded:
    """A client whose commands go through the breaker of its cache alias."""

    breaker: ClientBreaker

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return guarded(self.breaker, super().execute_command, *args, **options)  # type: ignore[misc]
