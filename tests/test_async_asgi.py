"""Async views under a real ASGI server (uvicorn): concurrency, single flight, budget, freshness."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connections, transaction

from django_distcache.redis.aio import ASYNC_CLIENT_NAME
from tests.asgi_server import HttpConnection, Uvicorn, get_all
from tests.testapp.models import Category
from tests.workers import worker_env

pytestmark = pytest.mark.django_db(transaction=True)

HANG = 60  # a bound against hangs on a busy machine, not a speed assertion


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """A factory of uvicorn processes serving the test project, stopped after the test."""
    started: list[Uvicorn] = []

    def start(**overrides: Any) -> Uvicorn:
        env = {**worker_env(overrides), "DJANGO_SETTINGS_MODULE": "tests.asgi_settings"}
        server = Uvicorn(env, tmp_path / f"uvicorn{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def fetch(port: int, paths: list[str], concurrency: int) -> list[tuple[int, Any]]:
    answers = asyncio.run(asyncio.wait_for(get_all(port, paths, concurrency), HANG))
    return [(status, json.loads(body) if status == 200 else body) for status, body in answers]


def selects(port: int) -> int:
    [(status, body)] = fetch(port, ["/async/selects/"], 1)
    assert status == 200
    return body["testapp_category"]


@pytest.mark.usefixtures("app_cache")
def test_two_hundred_concurrent_requests_on_a_cold_key_make_one_load(serve):
    row = Category.objects.create(name="maps")
    server = serve()
    before = selects(server.port)
    answers = fetch(server.port, [f"/async/category/{row.pk}/"] * 200, 200)
    assert answers == [(200, {"pk": row.pk, "name": "maps"})] * 200
    assert selects(server.port) - before == 1


@pytest.mark.usefixtures("app_cache")
def test_concurrent_views_read_objects_lists_and_cached_functions(serve):
    rows = [Category.objects.create(name=f"shelf {i}") for i in range(10)]
    server = serve()
    pks = ",".join(str(r.pk) for r in rows)
    paths = [f"/async/category/{r.pk}/" for r in rows] * 5
    paths += [f"/async/categories/?pks={pks}"] * 20 + ["/async/names/shelf/"] * 20
    answers = fetch(server.port, paths, 50)
    assert all(status == 200 for status, _ in answers)
    assert answers[0][1] == {"pk": rows[0].pk, "name": "shelf 0"}
    assert answers[50][1] == {str(r.pk): r.name for r in rows}
    assert answers[-1][1] == {"names": [r.name for r in rows]}
    before = selects(server.port)
    assert fetch(server.port, paths, 50) == answers  # all hits now
    assert selects(server.port) == before


def test_hundred_concurrent_requests_stay_within_the_connection_budget(serve):
    rows = [Category.objects.create(name=f"c{i}") for i in range(50)]
    server = serve(ASYNC_MAX_CONNECTIONS=4)
    observer = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_DB}")
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            # This run's db only: another test run may share the server (its own db).
            clients = observer.client_list()
            names = [c["name"] for c in clients if c["db"] == str(settings.REDIS_DB)]
            seen.append(names.count(ASYNC_CLIENT_NAME))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        paths = [f"/async/category/{rows[i % 50].pk}/" for i in range(1000)]
        answers = fetch(server.port, paths, 100)
    finally:
        done.set()
        watcher.join(HANG)
        observer.close()
    assert all(status == 200 for status, _ in answers)
    assert max(seen) <= 4
    assert max(seen) >= 1  # the watcher saw the server's connections at work


@pytest.mark.usefixtures("app_cache")
def test_no_stale_read_after_a_committed_write(serve):
    """Readers hammer a key while writes commit (here and through the server): a read
    sent after a write returned never shows an older name."""
    row = Category.objects.create(name="v0")
    server = serve()
    committed: list[tuple[float, int]] = [(0.0, 0)]  # (when the write returned, version)
    reads: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def reader() -> None:
        connection = HttpConnection(server.port)
        try:
            while not stop.is_set():
                sent = time.monotonic()
                status, body = await connection.request(f"/async/category/{row.pk}/")
                assert status == 200
                reads.append((sent, int(json.loads(body)["name"][1:])))
        finally:
            await connection.close()

    def save_here(version: int) -> None:
        try:
            with transaction.atomic():
                Category.objects.filter(pk=row.pk).update(name=f"v{version}")
        finally:
            connections.close_all()  # this executor thread's connection

    async def writer() -> None:
        connection = HttpConnection(server.port)
        try:
            for version in range(1, 21):
                await asyncio.sleep(0.02)
                if version % 2:
                    await asyncio.to_thread(save_here, version)
                else:
                    status, _ = await connection.request(
                        f"/async/rename/{row.pk}/v{version}/", "POST"
                    )
                    assert status == 200
                committed.append((time.monotonic(), version))
            await asyncio.sleep(0.05)
        finally:
            stop.set()
            await connection.close()

    async def scenario() -> None:
        await asyncio.gather(writer(), *(reader() for _ in range(20)))

    asyncio.run(asyncio.wait_for(scenario(), HANG))
    stale = [
        (sent, seen, version)
        for sent, seen in reads
        for when, version in committed
        if when <= sent and seen < version
    ]
    assert len(reads) > 100
    assert not stale, f"{len(stale)} stale reads, e.g. {stale[:3]}"
    assert max(seen for _, seen in reads) == 20
