"""The private redis-server processes of the tests and benchmarks never outlive a failed start."""

from __future__ import annotations

import time

import pytest

from tests.redis_servers import RedisServer


def test_a_server_that_exits_at_startup_raises_with_its_log(tmp_path):
    server = RedisServer(tmp_path, "--maxmemory-policy", "no-such-policy", logfile=True)
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()
    assert server.process is not None
    assert server.process.poll() is not None


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path):
    server = RedisServer(tmp_path)
    server.launch()
    with pytest.raises(RuntimeError, match="did not start"):
        server.wait_until_answering(time.monotonic())  # a deadline already past
    assert server.process is not None
    assert server.process.poll() is not None


def test_a_started_server_answers_and_stops(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        with server.connection() as conn:
            assert conn.ping()
    finally:
        server.stop()
    assert server.process is not None
    assert server.process.poll() is not None
