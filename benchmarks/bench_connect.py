"""What the lost-state check costs a new Redis connection, and that a command pays nothing.

Run: ``make benchmark`` (or ``python benchmarks/bench_connect.py`` with the services' env).
Contenders, interleaved: a new connection made with the app's connection arguments
(its first command is preceded by ``SCRIPT EXISTS`` of the recovered marker, see
``django_distcache/redis/recovered.py``) against one made with the same arguments but
without the check; each connects, sends one ``PING`` and disconnects. Then a ``PING`` on
a held connection of each kind, which the check never touches.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks.database import prepare_products  # noqa: E402

CONNECTIONS = 300
ROUNDS = 5


def main() -> None:
    prepare_products(rows=10)
    from benchmarks.harness import report, run_interleaved
    from django_distcache.redis.client import get_redis

    client = get_redis()
    client.ping()  # the first connection recovers and marks the server
    pool = client.connection_pool
    checked_kwargs = dict(pool.connection_kwargs)
    plain_kwargs = {k: v for k, v in checked_kwargs.items() if k != "redis_connect_func"}

    def connect_and_ping(kwargs: dict) -> object:
        def call(_i: int) -> None:
            connection = pool.connection_class(**kwargs)
            try:
                connection.send_command("PING")
                connection.read_response()
            finally:
                connection.disconnect()

        return call

    held = {
        "checked": pool.connection_class(**checked_kwargs),
        "plain": pool.connection_class(**plain_kwargs),
    }

    def ping_on(connection: object) -> object:
        def call(_i: int) -> None:
            connection.send_command("PING")  # type: ignore[attr-defined]
            connection.read_response()  # type: ignore[attr-defined]

        return call

    results = run_interleaved(
        {
            "new connection, no check": connect_and_ping(plain_kwargs),
            "new connection, checked": connect_and_ping(checked_kwargs),
        },
        list(range(CONNECTIONS)),
        rounds=ROUNDS,
    )
    print(f"{CONNECTIONS * ROUNDS} connections per contender (connect, PING, close)\n")
    print(report(results, "new connection, no check", "new connection, checked"))
    results = run_interleaved(
        {
            "PING, held plain connection": ping_on(held["plain"]),
            "PING, held checked connection": ping_on(held["checked"]),
        },
        list(range(CONNECTIONS)),
        rounds=ROUNDS * 4,
    )
    print()
    print(
        report(
            results,
            "PING, held plain connection",
            "PING, held checked connection",
            "connect_held",
        )
    )
    for connection in held.values():
        connection.disconnect()


if __name__ == "__main__":
    main()
