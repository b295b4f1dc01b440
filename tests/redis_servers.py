"""Private redis-server processes on free loopback ports, for the tests and the benchmarks.

Plain code (no pytest): the fixtures, the Redis Cluster fixture and the benchmarks all
start their servers here, and a server that fails to start is stopped before the error
is raised.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

START_TIMEOUT = 10.0


class RedisServerMissing(RuntimeError):
    """The redis-server (or redis-cli) binary is not installed."""


def free_port() -> int:
    """A loopback port free now (another process may take it before it is bound)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binary(name: str = "redis-server") -> str:
    """The path of ``name`` (redis-server, redis-cli), or RedisServerMissing."""
    path = shutil.which(name)
    if path is None:
        raise RedisServerMissing(f"{name} binary not installed (system package 'redis-server')")
    return path


class RedisServer:
    """One redis-server on a free loopback port, keeping nothing on disk, with its files
    (and log) in ``workdir``. ``start()`` waits until it answers; ``stop()`` any time."""

    def __init__(self, workdir: Path, *extra: str, logfile: bool = False) -> None:
        self.port = free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.args = [
            binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            *(["--logfile", "redis.log"] if logfile else []),
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def connection(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, decode_responses=True)

    def launch(self) -> None:
        """Start the process without waiting for it to answer (see wait_until_answering)."""
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until it answers; stopped again if it does not."""
        self.launch()
        self.wait_until_answering(time.monotonic() + timeout)

    def wait_until_answering(self, deadline: float) -> None:
        """Return once the server answers PING; past ``deadline``, or if it exited, stop
        it and raise RuntimeError."""
        # Not redis-py's retries: on a port that another process holds, a probe would wait.
        options = {"socket_timeout": 0.5, "retry": Retry(NoBackoff(), 0)}
        try:
            # Closed explicitly: a probe that failed half-way must not leave a socket open.
            with redis.Redis(port=self.port, **options) as probe:
                while time.monotonic() < deadline:
                    if self.process is not None and self.process.poll() is not None:
                        break  # it exited: a port taken meanwhile, say (see its log)
                    try:
                        if probe.ping():
                            return
                    except redis.RedisError:
                        time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        self.stop()  # a server that did not answer in time must not outlive its caller
        raise RuntimeError(f"redis-server did not start on port {self.port}: {self.log_tail()}")

    def log_tail(self) -> str:
        log = self.workdir / "redis.log"
        return log.read_text()[-500:] if log.exists() else "(no log)"

    def stop(self) -> None:
        """Terminate the server (killed if it does not exit within 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        """Stop abruptly, as a crashed server would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def started(workdir: Path, *extra: str) -> RedisServer:
    """A RedisServer, started (and stopped again if it did not answer)."""
    server = RedisServer(workdir, *extra)
    server.start()
    return server
