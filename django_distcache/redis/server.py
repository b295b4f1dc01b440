"""What an operator asks of the cache's Redis: version, role, persistence, loss window, slowlog."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from django_distcache import keys
from django_distcache.redis.client import get_redis
from django_distcache.stats.namespaces import namespace_of_base

SLOWLOG_ENTRIES = 10
# NOTE: counting entries per namespace costs one SCAN round trip per SCAN_COUNT keys;
# the dashboard stops after SCAN_LIMIT keys and says it sampled.
SCAN_COUNT = 1000
SCAN_LIMIT = 20_000


def _config(client: Redis, name: str) -> str | None:
    """A CONFIG GET value, or None where CONFIG is renamed or not allowed (managed Redis)."""
    try:
        value = client.config_get(name).get(name)
    except ResponseError:
        return None
    return None if value is None else str(value)


def _replicas(info: dict[str, Any]) -> list[dict[str, Any]]:
    replicas = []
    for index in range(int(info.get("connected_slaves", 0) or 0)):
        replica = info.get(f"slave{index}")
        if isinstance(replica, dict):
            lag_bytes = int(info.get("master_repl_offset", 0)) - int(replica.get("offset", 0))
            replicas.append(
                {
                    "address": f"{replica.get('ip')}:{replica.get('port')}",
                    "state": replica.get("state"),
                    "lag_seconds": replica.get("lag"),
                    "lag_bytes": max(0, lag_bytes),
                }
            )
    return replicas


def loss_window(
    policy: str, aof: bool, appendfsync: str | None, save: str | None, role: str
) -> list[str]:
    """What a Redis restart or failover loses of the pending write-behind writes, in words."""
    lines = []
    if policy.startswith("allkeys-"):
        lines.append(
            f"maxmemory-policy {policy} may evict buffered writes before they are flushed "
            "(distcache.E010): use noeviction or a volatile-* policy for the buffer."
        )
    if aof and appendfsync == "always":
        lines.append("A restart loses nothing: AOF with appendfsync always.")
    elif aof and appendfsync == "everysec":
        lines.append("A restart loses about the last second of writes: AOF, appendfsync everysec.")
    elif aof:
        lines.append(
            "A restart loses what the operating system had not yet written: "
            f"AOF with appendfsync {appendfsync or 'unknown'}."
        )
    elif save:
        lines.append(f"A restart loses the writes since the last RDB snapshot (save {save}).")
    elif save == "":
        lines.append("A restart loses every pending write: no AOF and no RDB snapshots.")
    else:
        lines.append("Persistence unknown (CONFIG is not allowed); AOF is off.")
    if role == "master":
        lines.append("A failover loses what the replica had not yet received (see the lag).")
    return lines


def server_info(client: Redis) -> dict[str, Any]:
    """Version, uptime, role, replication, memory policy, persistence and the loss window."""
    info = client.info()
    aof = bool(int(info.get("aof_enabled", 0)))
    policy = str(info.get("maxmemory_policy", "unknown"))
    appendfsync = _config(client, "appendfsync") if aof else None
    save = _config(client, "save")
    role = str(info.get("role", "unknown"))
    last_save = info.get("rdb_last_save_time")
    return {
        "version": info.get("redis_version"),
        "uptime_seconds": int(info.get("uptime_in_seconds", 0)),
        "role": role,
        "master_link_status": info.get("master_link_status"),
        "replicas": _replicas(info),
        "maxmemory_policy": policy,
        "aof_enabled": aof,
        "appendfsync": appendfsync,
        "save": save,
        "rdb_changes_since_last_save": info.get("rdb_changes_since_last_save"),
        "rdb_last_save": datetime.fromtimestamp(int(last_save), dt_timezone.utc)
        if last_save
        else None,
        "fragmentation_ratio": info.get("mem_fragmentation_ratio"),
        "rejected_connections": int(info.get("rejected_connections", 0)),
        "total_commands": int(info.get("total_commands_processed", 0)),
        "ops_per_sec": int(info.get("instantaneous_ops_per_sec", 0)),
        "loss_window": loss_window(policy, aof, appendfsync, save, role),
    }


def _argument(value: Any) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def slowlog(client: Redis, count: int = SLOWLOG_ENTRIES) -> list[dict[str, Any]]:
    """The slowest recent commands: when, how long, the command and its first argument only
    (later arguments may hold cached values)."""
    try:
        entries = client.slowlog_get(count)
    except ResponseError:
        return []
    rows = []
    for entry in entries:
        command = entry.get("command", b"")
        parts = command.split(b" ") if isinstance(command, bytes) else str(command).split(" ")
        rows.append(
            {
                "at": datetime.fromtimestamp(int(entry["start_time"]), dt_timezone.utc),
                "microseconds": int(entry["duration"]),
                "command": _argument(parts[0]).upper(),
                "first_argument": _argument(parts[1]) if len(parts) > 1 else "",
                "arguments": max(0, len(parts) - 1),
            }
        )
    return rows


def entries_per_namespace(client: Redis) -> dict[str, Any]:
    """Keys of this app per namespace, by SCAN (never KEYS), stopping after SCAN_LIMIT keys."""
    counts: dict[str, int] = {}
    scanned = 0
    for key in client.scan_iter(match=f"{keys.prefix()}:*", count=SCAN_COUNT):
        name = key.decode(errors="replace") if isinstance(key, bytes) else key
        if name.endswith(keys.LEASE_SUFFIX):
            continue
        namespace = namespace_of_base(name)
        counts[namespace] = counts.get(namespace, 0) + 1
        scanned += 1
        if scanned >= SCAN_LIMIT:
            break
    return {
        "rows": sorted(counts.items(), key=lambda item: -item[1]),
        "scanned": scanned,
        "complete": scanned < SCAN_LIMIT,
        "dbsize": client.dbsize(),
    }


def cache_operator_view() -> dict[str, Any]:
    """``operator_view`` of the cache's Redis; ``{"available": False, "error"}`` also when
    its client cannot be made (a cluster client connects when made)."""
    try:
        return operator_view(get_redis())
    except RedisError as exc:
        return {"available": False, "error": str(exc)}


def operator_view(client: Redis) -> dict[str, Any]:
    """Everything above for the dashboard; ``{"available": False, "error"}`` when Redis is down."""
    try:
        return {
            "available": True,
            "error": None,
            "server": server_info(client),
            "slowlog": slowlog(client),
            "entries": entries_per_namespace(client),
        }
    except RedisError as exc:
        return {"available": False, "error": str(exc)}
