"""A real ASGI server (uvicorn) in its own process, and a keep-alive HTTP client to load it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Uvicorn:
    """``uvicorn tests.asgi:application`` (one process) on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path, app: str = "tests.asgi:application") -> None:
        self.port = free_port()
        self.log = log
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--lifespan", "off", "--no-access-log"]
        # a client connection waiting its turn on a busy machine is not dropped
        command += ["--timeout-keep-alive", "60"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"uvicorn did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection (just enough HTTP for the tests' own views)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, method: str = "GET") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        self.writer.write(head.encode())
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                chunked = "chunked" in value.lower()
        if not chunked:
            return status, await self.reader.readexactly(length)
        body = b""
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            body += await self.reader.readexactly(size)
            await self.reader.readline()  # the chunk's CRLF
        await self.reader.readline()  # the CRLF after the last (empty) chunk
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
            self.writer = None


async def get_all(port: int, paths: Sequence[str], concurrency: int) -> list[tuple[int, bytes]]:
    """GET ``paths`` over ``concurrency`` connections at once, answers in the paths' order."""
    connections = [HttpConnection(port) for _ in range(concurrency)]
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(paths)

    async def client(index: int) -> None:
        for number in range(index, len(paths), concurrency):
            answers[number] = await connections[index].request(paths[number])

    try:
        await asyncio.gather(*(client(i) for i in range(concurrency)))
    finally:
        for connection in connections:
            await connection.close()
    return answers
