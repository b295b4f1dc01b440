"""make demo: the example shop with Redis, a Celery worker and beat, the server and traffic.

Uses REDIS_URL when it answers, else Redis on 127.0.0.1:6379, else a private
redis-server it starts; SQLite, or PostgreSQL when DATABASE_URL says so. Ctrl-C stops
every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ensure_services import (
    ensure_redis_server_binary,
    free_port,
    redis_answers,
    redis_server_args,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(Exception):
    """Ctrl-C or a termination signal."""


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop


class Processes:
    """The processes the demo started, each in its own process group, stopped together."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.started[name] = subprocess.Popen(
            command,
            cwd=EXAMPLE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def exited(self) -> str | None:
        return next((n for n, p in self.started.items() if p.poll() is not None), None)

    def stop(self) -> None:
        for process in reversed(self.started.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in reversed(self.started.values()):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # what a pool left in its group
                os.killpg(process.pid, signal.SIGKILL)


def choose_redis(processes: Processes) -> str:
    given = os.environ.get("REDIS_URL")
    if given:
        parts = urlsplit(given)
        if redis_answers(parts.port or 6379, parts.hostname or "127.0.0.1"):
            return given.rstrip("/")
        sys.exit(f"REDIS_URL={given} does not answer; unset it to let the demo choose.")
    if redis_answers(6379):
        return "redis://127.0.0.1:6379"
    port = free_port()
    binary = ensure_redis_server_binary()
    processes.start("redis", redis_server_args(binary, port, processes.log_dir), dict(os.environ))
    for _ in range(200):
        if redis_answers(port):
            print(f"No Redis answered on 127.0.0.1:6379: started a private redis-server on {port}.")
            return f"redis://127.0.0.1:{port}"
        time.sleep(0.05)
    sys.exit(f"redis-server did not answer on port {port}; see {processes.log_dir}/redis.log")


def wait_for_page(url: str, seconds: float, processes: Processes) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if processes.exited():
            raise SystemExit(f"{processes.exited()} stopped; see {processes.log_dir}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def run(args: argparse.Namespace) -> None:
    log_dir = Path(args.log_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes(log_dir)
    try:
        redis_url = choose_redis(processes)
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "SHOP_SNAPSHOT_SECONDS": str(args.snapshot_seconds),
            "PYTHONUNBUFFERED": "1",
        }
        cache_db, broker_db = (
            env.get("SHOP_CACHE_REDIS_DB", "1"),
            env.get("SHOP_BROKER_REDIS_DB", "2"),
        )
        database = (
            "PostgreSQL from DATABASE_URL"
            if os.environ.get("DATABASE_URL")
            else ("SQLite, " + env.get("SHOP_DATABASE", str(EXAMPLE / "shop.sqlite3")))
        )
        print(f"Redis:    {redis_url}/{cache_db} (cache), {redis_url}/{broker_db} (Celery broker)")
        print(f"Database: {database}")
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "demo", *(["--no-tour"] if args.no_tour else [])],
            cwd=EXAMPLE,
            env=env,
            check=True,
        )
        celery = [str(BIN / "celery"), "-A", "shopsite"]
        processes.start(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                "distcache,celery",
                "-l",
                "info",
                "--concurrency",
                "2",
                "-n",
                f"shop-{os.getpid()}@%h",
            ],
            env,
        )
        processes.start(
            "beat", [*celery, "beat", "-l", "info", "-s", str(log_dir / "celerybeat-schedule")], env
        )
        address = f"127.0.0.1:{args.port}"
        processes.start("server", [*manage, "runserver", address, "--noreload"], env)
        site = f"http://{address}"
        wait_for_page(f"{site}/", 60, processes)
        if not args.no_traffic:
            processes.start("traffic", [*manage, "shop_traffic", "--url", site], env)
        pids = ", ".join(f"{name} {p.pid}" for name, p in processes.started.items())
        print(f"\nThe shop:        {site}/")
        print(f"Cache dashboard: {site}/admin/django_distcache/dashboard/")
        print(f"Admin:           {site}/admin/ (the login is printed above)")
        print(f"Logs:            {log_dir}")
        print(f"Started: {pids}. Ctrl-C stops them all.", flush=True)
        while not processes.exited():
            time.sleep(0.5)
        print(f"{processes.exited()} stopped unexpectedly; see {log_dir}. Stopping the rest.")
        raise SystemExit(1)
    except Stop:
        print("\nStopping everything the demo started...", flush=True)
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        processes.stop()
        print("Stopped.", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
    parser.add_argument("--log-dir", default=str(EXAMPLE / ".demo"))
    parser.add_argument("--snapshot-seconds", type=float, default=15.0)
    parser.add_argument("--no-tour", action="store_true")
    parser.add_argument("--no-traffic", action="store_true")
    args = parser.parse_args()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    run(args)


if __name__ == "__main__":
    main()
