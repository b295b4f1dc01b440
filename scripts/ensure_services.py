"""Make sure the services the tests and the demo need are reachable.

Redis: use DISTCACHE_TEST_REDIS_URL when it is set and answers, else the one on
127.0.0.1:6379 when it answers, else start a private
redis-server on a free loopback port. PostgreSQL: use 127.0.0.1:5432 when it
answers, else the tests fall back to SQLite. Writes the choice to .services.env.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / ".services.env"
PRIVATE_REDIS_DIR = ROOT / ".redis"


def answers(host: str, port: int, probe: bytes | None = None, expect: bytes = b"") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            if probe is None:
                return True
            sock.sendall(probe)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


def redis_answers(port: int, host: str = "127.0.0.1") -> bool:
    return answers(host, port, b"PING\r\n", b"+PONG")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def install_debian_package(package: str, binary: str) -> str | None:
    """Install ``package`` with apt-get when we are root; the path of ``binary`` or None."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print(f"{binary} is missing; installing Debian's {package} package", flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-q", package], check=False)
    return shutil.which(binary)


def ensure_redis_server_binary() -> str:
    path = shutil.which("redis-server") or install_debian_package("redis-server", "redis-server")
    if path:
        return path
    sys.exit(
        "No Redis answers on 127.0.0.1:6379 and the redis-server binary is missing. "
        "Install the system package 'redis-server' (Debian/Ubuntu: apt-get install redis-server) "
        "or start Redis on 127.0.0.1:6379."
    )


def redis_server_args(binary: str, port: int, directory: Path) -> list[str]:
    """A redis-server on loopback ``port`` that keeps nothing on disk (tests, the demo)."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]


def start_private_redis() -> int:
    PRIVATE_REDIS_DIR.mkdir(exist_ok=True)
    pid_file = PRIVATE_REDIS_DIR / "redis.port"
    if pid_file.exists():
        port = int(pid_file.read_text())
        if redis_answers(port):
            return port
    binary = ensure_redis_server_binary()
    port = free_port()
    subprocess.run(
        [
            *redis_server_args(binary, port, PRIVATE_REDIS_DIR),
            "--daemonize",
            "yes",
            "--logfile",
            str(PRIVATE_REDIS_DIR / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if redis_answers(port):
            pid_file.write_text(str(port))
            print(f"started a private redis-server on 127.0.0.1:{port}", flush=True)
            return port
        time.sleep(0.05)
    sys.exit(f"redis-server did not answer on 127.0.0.1:{port}; see .redis/redis.log")


def ensure_chromium() -> str | None:
    """The browser of the dashboard's browser tests: Debian's chromium, installed if missing."""
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    found = found or install_debian_package("chromium", "chromium")
    if found:
        return found
    print(
        "note: no chromium browser and no way to install it (needs root and apt-get); "
        "the browser tests will be skipped, each saying so",
        flush=True,
    )
    return None


def redis_url() -> str:
    """DISTCACHE_TEST_REDIS_URL when it is set and answers, else 6379, else a private one."""
    given = os.environ.get("DISTCACHE_TEST_REDIS_URL")
    if given:
        parsed = urlsplit(given)
        if redis_answers(parsed.port or 6379, parsed.hostname or "127.0.0.1"):
            return given
        print(f"note: DISTCACHE_TEST_REDIS_URL={given} does not answer", flush=True)
    port = 6379 if redis_answers(6379) else start_private_redis()
    return f"redis://127.0.0.1:{port}"


def main() -> None:
    if not shutil.which("redis-server"):
        print(
            "note: redis-server binary not found; tests that start their own Redis "
            "will be skipped (install the 'redis-server' system package)",
            flush=True,
        )
    lines = [f"DISTCACHE_TEST_REDIS_URL={redis_url()}"]
    if answers("127.0.0.1", 5432):
        lines.append("DISTCACHE_TEST_DATABASE=postgresql")
    else:
        print("PostgreSQL does not answer on 127.0.0.1:5432; using SQLite", flush=True)
        lines.append("DISTCACHE_TEST_DATABASE=sqlite")
    chromium = ensure_chromium()
    if chromium:
        lines.append(f"DISTCACHE_CHROMIUM={chromium}")
    ENV_FILE.write_text("\n".join(lines) + "\n")
    print("services: " + ", ".join(lines), flush=True)


if __name__ == "__main__":
    main()
