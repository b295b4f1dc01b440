"""A client discarded when the settings changed never opens the breaker of the new one.

A background thread (a statistics or hot-key flush, a breaker probe, a refresh) may take
the app's client just before the settings change and send on it just after, when the
server it was made for is gone: that failure says nothing of the Redis the cache now
uses, which must go on serving reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

import django_distcache
from django_distcache.redis import breaker, wire
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
