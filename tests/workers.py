"""Real Celery worker processes for the tests, and a TCP proxy to cut the database off."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(overrides: dict[str, Any] | None = None, db_port: int | None = None) -> dict:
    """The environment of a worker: the test database, Redis db index and settings."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["DISTCACHE_TEST_DB_NAME"] = connection.settings_dict["NAME"]
    env["DISTCACHE_TEST_REDIS_DB"] = str(settings.REDIS_DB)
    env["DISTCACHE_TEST_OVERRIDES"] = json.dumps(overrides or {})
    if db_port is not None:
        env["DISTCACHE_TEST_DB_PORT"] = str(db_port)
    env["PYTHONPATH"] = str(ROOT)
    return env


class Worker:
    """``celery worker`` on the distcache queue, one process (solo pool)."""

    def __init__(self, name: str, log_dir: Path, env: dict) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            offset = self.log_path.stat().st_size
            self.process = self._spawn(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                if b" ready." in log.read():
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()  # a worker that never became ready must not consume the test's tasks later
        raise RuntimeError(f"worker {self.name} did not start:\n{self.output()}")

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "-Q",
                "distcache",
                "-P",
                "solo",
                "-n",
                f"{self.name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: the process dies at once, wherever it is."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (Celery's warm shutdown); returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; ``cut()`` refuses and drops connections."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._cut_after_commit = threading.Event()
        self.commits_cut = 0

    def cut_after_commit(self) -> None:
        """The next COMMIT reaches the database; its answer is dropped with the connection."""
        self._cut_after_commit.set()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            committing = threading.Event()
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, committing), daemon=True
                ).start()

    def _pipe(
        self, source: socket.socket, sink: socket.socket, committing: threading.Event
    ) -> None:
        try:
            while data := source.recv(65536):
                if committing.is_set():
                    return  # the answer to COMMIT: dropped, and the connection with it
                # A simple-protocol query message "COMMIT" from the client.
                if self._cut_after_commit.is_set() and b"Q\x00\x00\x00\x0bCOMMIT\x00" in data:
                    self._cut_after_commit.clear()
                    self.commits_cut += 1
                    committing.set()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The database goes away: no new connections, open ones dropped."""
        if self._listener:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
