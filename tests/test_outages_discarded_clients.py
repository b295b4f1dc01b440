"""A client discarded when the settings changed (sync or async) never opens the new breaker.

A background thread (a statistics or hot-key flush, a breaker probe, a refresh) may take
the app's client just before the settings change and send on it just after, when the
server it was made for is gone: that failure says nothing of the Redis the cache now
uses, which must go on serving reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

import django_distcache
from django_distcache.redis import breaker, wire
from django_distcache.redis.aio import close_async_redis, get_async_redis
from django_distcache.redis.client import get_redis
from tests.test_outages import app_on

pytestmark = pytest.mark.django_db(transaction=True)


def _command(client: Any) -> None:
    client.ping()


def _pipeline(client: Any) -> None:
    client.pipeline(transaction=False).ping().execute()


def _direct(client: Any) -> None:
    wire.mget(client, ["any"])


@pytest.mark.parametrize("send", [_command, _pipeline, _direct], ids=lambda f: f.__name__[1:])
def test_a_failure_on_a_discarded_client_leaves_the_breaker_closed(
    redis_process, send: Callable[[Any], None]
):
    server = redis_process()
    with app_on(server.url):
        discarded = get_redis()
        pipeline = discarded.pipeline(transaction=False)  # taken before the change too
        send(discarded)
    server.stop()

    with pytest.raises(redis.ConnectionError):
        send(discarded)
    with pytest.raises(redis.ConnectionError):
        pipeline.ping().execute()
    assert not breaker.is_open()
    assert breaker.cache_breaker().trips == 0

    # The suite's Redis serves the reads: the first stores the value, the second hits it.
    assert django_distcache.get_or_set("k", lambda: 1) == 1
    assert django_distcache.get_or_set("k", lambda: 2) == 1


def test_a_failure_on_the_current_client_still_opens_the_breaker(redis_process):
    server = redis_process()
    with app_on(server.url, RETRY_REDIS_AFTER=60):
        current = get_redis()
        current.ping()
        server.stop()
        with pytest.raises(redis.ConnectionError):
            current.ping()
        assert breaker.is_open()


def _run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        try:
            return await asyncio.wait_for(scenario(), 30)
        finally:
            await close_async_redis()

    return asyncio.run(main())


def test_a_failure_on_a_discarded_async_client_leaves_the_breaker_closed(redis_process):
    server = redis_process()

    async def scenario() -> None:
        with app_on(server.url):
            discarded = get_async_redis()
            await discarded.execute("PING")
        server.stop()
        with pytest.raises(redis.ConnectionError):
            await discarded.execute("PING")
        assert not breaker.is_open()
        assert breaker.cache_breaker().trips == 0

        async def one() -> int:
            return 1

        async def two() -> int:
            return 2

        # A new client, on the suite's Redis: the first read stores, the second hits.
        assert get_async_redis() is not discarded
        assert await django_distcache.aget_or_set("k", one) == 1
        assert await django_distcache.aget_or_set("k", two) == 1

    _run(scenario)


def test_clients_reset_replace_the_async_client_too(redis_process):
    server = redis_process()

    async def scenario() -> None:
        with app_on(server.url, RETRY_REDIS_AFTER=60):
            before = get_async_redis()
            await before.execute("PING")
            from django_distcache.redis import client

            client.reset()  # as after a settings change, or between tests
            current = get_async_redis()
            assert current is not before
            await current.execute("PING")
            server.stop()
            with pytest.raises(redis.ConnectionError):
                await current.execute("PING")
            assert breaker.is_open()  # the current client's failures still count

    _run(scenario)
