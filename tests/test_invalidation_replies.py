"""A write's invalidation is sent before the write returns, without waiting for Redis's reply.

What must hold: a read anywhere after the write returns sees the new row; a reply that
says the invalidation failed, or a connection lost with it unanswered, is never served
over (the breaker opens and the outbox is replayed); a refusal is known by the end of the
request at the latest.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis
from django.db import transaction

import django_distcache
from django_distcache import outbox
from django_distcache.outbox import unanswered
from django_distcache.redis import breaker, wire
from tests.test_outages import app_on, process_env, wait_for, wait_until_cache_used_again
from tests.testapp.models import Category
from tests.workers import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


class Reader:
    """Another process that reads ``pks`` through the cache each time it is asked."""

    def __init__(self, env: dict[str, str], *pks: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.outage_process", "serve", *map(str, pks)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def names(self) -> dict[str, str]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def category() -> Category:
    return Category.objects.create(name="v0")


def test_a_read_in_another_process_after_the_write_returns_sees_it(category):
    reader = Reader(worker_env(), category.pk)
    try:
        django_distcache.get_object(Category, category.pk)
        for version in range(1, 201):
            category.name = f"v{version}"
            if version % 2:
                category.save()  # autocommit: the statement is the commit
            else:
                with transaction.atomic():
                    category.save()
            # No other command of this thread in between: the reply is still unread.
            assert reader.names() == {str(category.pk): f"v{version}"}
    finally:
        reader.close()


def _held_connection_address() -> str:
    connection = wire._local.held[2]
    host, port = connection._sock.getsockname()[:2]
    return f"{host}:{port}"


def test_an_invalidation_lost_with_its_connection_is_never_served_over(redis_process, category):
    server = redis_process()
    admin = redis.Redis(port=server.port)
    with app_on(server.url):
        assert django_distcache.get_object(Category, category.pk).name == "v0"
        # Redis holds back writes (scripts included) while the connection is killed:
        # the invalidation is lost unanswered, never applied.
        admin.client_pause(10_000, all=False)
        try:
            category.name = "v1"
            category.save()
            admin.client_kill(_held_connection_address())
        finally:
            admin.client_unpause()
        entries = [admin.get(key) for key in admin.scan_iter("*:obj:testapp.category*")]
        assert any(entry and b"v0" in entry for entry in entries)  # not invalidated
        # The next read finds the connection dead and what was lost with it: it does
        # not serve the entry, which Redis still holds.
        assert django_distcache.get_object(Category, category.pk).name == "v1"
        assert breaker.is_open()
        wait_until_cache_used_again()  # the replay applied the outbox row
        assert django_distcache.get_object(Category, category.pk).name == "v1"
        reader = Reader(process_env(server.port), category.pk)
        try:
            assert reader.names() == {str(category.pk): "v1"}
        finally:
            reader.close()


def test_a_refusal_is_known_by_the_end_of_the_request(redis_process, category, caplog, client):
    server = redis_process()
    primary = redis.Redis(port=server.port)
    with app_on(server.url):
        assert django_distcache.get_object(Category, category.pk).name == "v0"
        primary.replicaof("127.0.0.1", 1)  # nothing listens there: it stays read-only
        try:
            category.name = "v1"
            category.save()
            assert "did not reach Redis" not in caplog.text  # its reply is not read yet
            client.get("/admin/login/")  # a request of this thread ends
            assert unanswered.wait_until_kept()
            assert caplog.text.count("did not reach Redis") == 1
            assert breaker.is_open()
            assert outbox.figures()["waiting"] == 1
            assert django_distcache.get_object(Category, category.pk).name == "v1"
        finally:
            primary.replicaof("NO", "ONE")
        wait_for(lambda: not breaker.is_open(), "the breaker to close")
        assert outbox.figures()["waiting"] == 0
