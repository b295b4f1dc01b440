"""A local Redis Cluster of redis-server processes for the tests, and its pytest fixture."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.connection import Connection

from tests.redis_servers import RedisServer, RedisServerMissing, binary, free_port

# How long a node may not answer before the others count it as failed. The shared cluster
# is patient (a busy machine must not fail a node over); the tests that kill one are quick.
NODE_TIMEOUT_MS = 5000
FAILOVER_NODE_TIMEOUT_MS = 1000
START_TIMEOUT = 60
START_ATTEMPTS = 3

# ("send" or "read", server port), in the order they happened, for LoggingConnection.
wire_events: list[tuple[str, int]] = []
# The error replies read by LoggingConnection, by exception name ("MovedError", "AskError").
error_replies: Counter[str] = Counter()


class LoggingConnection(Connection):
    """A real connection that logs each request sent, each reply read and each error reply."""

    def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        wire_events.append(("send", self.port))
        return super().send_packed_command(command, check_health)

    def read_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        wire_events.append(("read", self.port))
        try:
            return super().read_response(*args, **kwargs)
        except redis.ResponseError as exc:
            error_replies[type(exc).__name__] += 1
            raise


def requests_per_round(action: Callable[[], object]) -> list[Counter[int]]:
    """The requests ``action`` sent through LoggingConnections, per server port, in rounds:
    a round is every request sent before the next reply is read (they travel in parallel)."""
    wire_events.clear()
    action()
    found: list[Counter[int]] = []
    sending = False
    for what, port in wire_events:
        if what == "send":
            if not sending:
                found.append(Counter())
                sending = True
            found[-1][port] += 1
        else:
            sending = False
    return found


def requests_sent(action: Callable[[], object]) -> int:
    """How many requests ``action`` sent through LoggingConnections."""
    return sum(sum(one.values()) for one in requests_per_round(action))


def one_request_per_node_first(action: Callable[[], object], nodes: int) -> bool:
    """Whether ``action`` sent one request to each of ``nodes`` servers before reading any
    reply."""
    first = requests_per_round(action)[0]
    return sorted(first.values()) == [1] * nodes


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _binaries() -> tuple[str, str]:
    try:
        return binary("redis-server"), binary("redis-cli")
    except RedisServerMissing:
        pytest.skip(
            "Redis Cluster tests need the redis-server and redis-cli binaries "
            "(system package 'redis-server')"
        )


class ClusterNode(RedisServer):
    """One redis-server in cluster mode on free loopback ports (client and bus)."""

    def __init__(self, workdir: Path, node_timeout_ms: int) -> None:
        # The bus port is given explicitly: the default, port + 10000, may be out of range.
        self.bus_port = free_port()
        super().__init__(
            workdir / str(self.bus_port),
            "--cluster-port",
            str(self.bus_port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(node_timeout_ms),
            # a master stopped by the tests need not wait for its replicas to catch up
            "--shutdown-on-sigterm",
            "now",
            # replicas synchronise at once rather than after the default 5 s gathering delay
            "--repl-diskless-sync-delay",
            "0",
            logfile=True,
        )

    def info(self, section: str) -> dict:
        with self.connection() as conn:
            return conn.info(section)

    def cluster_info(self) -> dict:
        with self.connection() as conn:
            return conn.cluster("INFO")


class RedisClusterProcesses:
    """A cluster of ``masters`` masters with ``replicas`` replicas each, made by redis-cli."""

    def __init__(
        self,
        workdir: Path,
        masters: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
    ) -> None:
        _server, self.cli = _binaries()
        self.replicas = replicas
        count = masters * (1 + replicas)
        self.nodes = [ClusterNode(workdir, node_timeout_ms) for _ in range(count)]

    @property
    def url(self) -> str:
        """A startup URL: redis-py discovers the other nodes from it."""
        return f"redis://{self.nodes[0].address}"

    @property
    def location(self) -> str:
        """Every node, comma-separated, as a cache LOCATION."""
        return ",".join(f"redis://{node.address}" for node in self.nodes)

    def start(self) -> None:
        try:
            deadline = time.monotonic() + START_TIMEOUT
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_until_answering(deadline)
            subprocess.run(
                [
                    self.cli,
                    "--cluster",
                    "create",
                    *(node.address for node in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=START_TIMEOUT,
            )
            self.wait_until_ok(deadline)
            self.wait_until_replicas_synced(deadline)
        except BaseException:
            self.stop()
            raise

    def wait_until_ok(self, deadline: float, nodes: list[ClusterNode] | None = None) -> None:
        """Wait until every node (of those given) says cluster_state:ok with all slots."""
        waiting = list(nodes or self.nodes)
        while waiting and time.monotonic() < deadline:
            info = waiting[0].cluster_info()
            if info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384:
                waiting.pop(0)
            else:
                time.sleep(0.05)
        if waiting:
            raise RuntimeError(f"the cluster did not reach cluster_state:ok: {info}")

    def wait_until_replicas_synced(self, deadline: float) -> None:
        """Wait until every replica has finished its first synchronisation with its master.

        A replica that never synchronised is not eligible to replace its master.
        """
        waiting = [node for node in self.running() if node.info("replication")["role"] == "slave"]
        while waiting and time.monotonic() < deadline:
            if waiting[0].info("replication").get("master_link_status") == "up":
                waiting.pop(0)
            else:
                time.sleep(0.05)
        if waiting:
            raise RuntimeError(f"replica {waiting[0].address} did not synchronise")

    def masters(self) -> list[ClusterNode]:
        return [node for node in self.running() if node.info("replication")["role"] == "master"]

    def running(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.process and node.process.poll() is None]

    def flush(self) -> None:
        for node in self.masters():
            with node.connection() as conn:
                conn.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            node.stop()


def started_cluster(
    masters: int = 3, replicas: int = 1, node_timeout_ms: int = NODE_TIMEOUT_MS
) -> Iterator[RedisClusterProcesses]:
    """Start a cluster in a temporary directory; stop it and remove the directory after.

    A start that fails (a free port taken by another process before redis-server bound it)
    is tried again on new ports, twice at most.
    """
    with tempfile.TemporaryDirectory(prefix="distcache-cluster-") as workdir:
        for attempt in range(START_ATTEMPTS):
            cluster = RedisClusterProcesses(
                Path(workdir) / str(attempt), masters, replicas, node_timeout_ms
            )
            try:
                cluster.start()
                break
            except (RuntimeError, subprocess.SubprocessError, redis.RedisError):
                if attempt == START_ATTEMPTS - 1:
                    raise
        try:
            yield cluster
        finally:
            cluster.stop()


def fail_over(cluster: RedisClusterProcesses, master: ClusterNode | None = None) -> ClusterNode:
    """Kill ``master`` (by default the first) and wait until its replica is promoted; the
    promoted node."""
    masters = cluster.masters()
    replicas = [node for node in cluster.running() if node not in masters]
    (master or masters[0]).kill()
    promoted: list[ClusterNode] = []

    def one_promoted() -> bool:
        promoted[:] = [node for node in replicas if node.info("replication")["role"] == "master"]
        return len(promoted) == 1

    wait_for(one_promoted, "a replica to be promoted")
    return promoted[0]


@pytest.fixture
def failover_cluster() -> Iterator[RedisClusterProcesses]:
    """Three masters with a replica each and a short node timeout, for one test alone (it
    kills a master)."""
    yield from started_cluster(node_timeout_ms=FAILOVER_NODE_TIMEOUT_MS)


@pytest.fixture
def cluster_without_replicas() -> Iterator[RedisClusterProcesses]:
    """Three masters and no replica, for one test alone: one lost master takes the cluster
    down."""
    yield from started_cluster(masters=3, replicas=0, node_timeout_ms=FAILOVER_NODE_TIMEOUT_MS)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    """Six local redis-server processes in cluster mode: three masters, one replica each."""
    yield from started_cluster()


@pytest.fixture(params=["redis", "cluster"])
def app_cache(request: pytest.FixtureRequest, settings, monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app's cache on one Redis, then on the session's Redis Cluster (its CACHE_ALIAS
    switched to a RedisClusterCache, here and in the processes the test starts): a test
    using it runs on both."""
    if request.param == "redis":
        yield "redis"
        return
    from django_distcache.redis import breaker, client

    cluster = request.getfixturevalue("redis_cluster")
    monkeypatch.setenv("DISTCACHE_TEST_CLUSTER", cluster.location)
    app_on_cluster(settings, cluster)
    yield "cluster"
    client.reset()
    breaker.reset()


def app_on_cluster(settings, cluster: RedisClusterProcesses, **options) -> None:  # type: ignore[no-untyped-def]
    """Empty ``cluster`` and make it the app's cache (CACHE_ALIAS), with cache ``options``."""
    from django_distcache.redis import breaker, client

    cluster.flush()
    settings.CACHES = {
        **settings.CACHES,
        settings.CLUSTER_ALIAS: {
            "BACKEND": "django_distcache.redis.cluster.RedisClusterCache",
            "LOCATION": cluster.location,
            "OPTIONS": options,
        },
    }
    settings.DISTCACHE = {**settings.DISTCACHE, "CACHE_ALIAS": settings.CLUSTER_ALIAS}
    client.reset()
    breaker.reset()
