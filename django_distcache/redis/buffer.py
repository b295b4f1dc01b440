"""The write-behind buffer's plain commands: what ``writebehind`` reads and writes in Redis
besides its scripts (``buffer_scripts``) and its hot path (``packed``).

Every function sends to the buffer's Redis (``WRITE_BEHIND_CACHE_ALIAS`` or
``CACHE_ALIAS``: one Redis or a cluster) unless it is given a client.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import RedisError

from django_distcache.redis import routed
from django_distcache.redis.buffer_scripts import wb_script
from django_distcache.redis.client import get_buffer_redis, get_redis
from django_distcache.redis.packed import PackedCall, run_after


def run_script(name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """The reply of script ``lua/wb_<name>.lua`` (sent once on a cluster)."""
    return wb_script(name)(keys=keys, args=args, client=get_buffer_redis())


def packed_script(
    name: str, fixed: Sequence[str], row_keys: int, leading: Sequence[Any]
) -> PackedCall:
    """A call of ``lua/wb_<name>.lua`` with its ``fixed`` keys and ``leading`` arguments
    packed once (see ``packed``), for ``write_to_buffer``."""
    return PackedCall(wb_script(name), fixed, row_keys, leading)


# (process id, client id, set key, member) of what this process added with _list_once.
_listed: set[tuple[int, int, str, str]] = set()


def _list_once(client: Any, key: str, member: str) -> None:
    """SADD ``member`` to ``key`` once per process, client and member (NOTE: one round
    trip, the first time only)."""
    seen = (os.getpid(), id(client), key, member)
    if seen not in _listed:
        client.sadd(key, member)
        _listed.add(seen)


def list_model(models_key: str, label: str) -> None:
    """List ``label`` in set ``models_key`` of the buffer's Redis, once per process."""
    _list_once(get_buffer_redis(), models_key, label)


def write_to_buffer(
    call: PackedCall,
    models_key: str,
    label: str,
    row_keys: Sequence[str],
    args: Sequence[Any],
    then: Sequence[Any] = (),
) -> Any:
    """``call`` (a buffered write) on the buffer's Redis, ``label`` listed in
    ``models_key`` first (once per process); with ``then``, [its reply, that command's],
    sent over the same connection in the same round trip."""
    client = get_buffer_redis()
    _list_once(client, models_key, label)
    return call(client, row_keys, args, then)


def run_script_after(
    commands: Sequence[Sequence[Any]], name: str, keys: Sequence[str], args: Sequence[Any]
) -> list[Any]:
    """``commands`` (idempotent), then ``lua/wb_<name>.lua``, in one round trip on the
    buffer's Redis (two on a cluster, see ``packed.run_after``); their replies, the
    script's last."""
    return run_after(get_buffer_redis(), commands, wb_script(name), keys, args)


def members(key: str) -> set[str]:
    """SMEMBERS, decoded."""
    found: Any = get_buffer_redis().smembers(key)
    return {raw.decode() for raw in found}


def due_members(key: str, until: int, limit: int | None = None) -> list[str]:
    """Members of sorted set ``key`` scored up to ``until``, lowest first (``limit`` at most)."""
    client = get_buffer_redis()
    found: Any = (
        client.zrangebyscore(key, "-inf", until)
        if limit is None
        else client.zrangebyscore(key, "-inf", until, start=0, num=limit)
    )
    return [raw.decode() for raw in found]


def first_members(key: str, count: int) -> list[tuple[str, float]]:
    """The ``count`` lowest-scored members of sorted set ``key``, with their scores."""
    found: Any = get_buffer_redis().zrange(key, 0, count - 1, withscores=True)
    return [(raw.decode(), score) for raw, score in found]


def hash_fields(key: str) -> dict[str, bytes]:
    """HGETALL, field names decoded."""
    found: Any = get_buffer_redis().hgetall(key)
    return {name.decode(): value for name, value in found.items()}


def set_fields(key: str, mapping: dict[str, Any]) -> None:
    """HSET several fields of one hash."""
    get_buffer_redis().hset(key, mapping=mapping)  # type: ignore[arg-type]


def set_field_of_each(keys: Iterable[str], field: str, value: Any) -> None:
    """HSET one field in each hash of ``keys`` (pipelined: one round trip, per node on a
    cluster)."""
    pipe = get_buffer_redis().pipeline(transaction=False)
    for key in keys:
        pipe.hset(key, field, value)
    pipe.execute()


def fields_of_each(requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[Any]]:
    """HMGET per (hash key, fields), pipelined: the values, in order."""
    pipe = get_buffer_redis().pipeline(transaction=False)
    for key, fields in requests:
        pipe.hmget(key, list(fields))
    return list(pipe.execute())


def list_items(key: str, count: int | None = None) -> list[bytes]:
    """The first ``count`` items of list ``key`` (all by default)."""
    found: Any = get_buffer_redis().lrange(key, 0, -1 if count is None else count - 1)
    return list(found)


def drop_first_items(key: str, count: int | None = None) -> int:
    """Remove the first ``count`` items of list ``key`` (all by default), atomically;
    how many were removed."""
    pipe = get_buffer_redis().pipeline(transaction=True)
    pipe.llen(key)
    if count is None:
        pipe.delete(key)
    else:
        pipe.ltrim(key, count, -1)
    pipe.llen(key)
    before, _, after = pipe.execute()
    return int(before) - int(after)


def backlog_reads(roots: Sequence[Any]) -> list[Any]:
    """For each model's buffer keys (``BufferKeys``), six answers: pending rows, the first
    due, rows in flight, dead letters, (rows, writes) flushed, the oldest write. Each
    model is read in one MULTI/EXEC: a batch claimed between two of these reads would
    otherwise be counted twice or not at all."""
    buffer = get_buffer_redis()
    if not routed.is_cluster(buffer):
        return list(_queue_backlog(buffer.pipeline(transaction=True), roots).execute())
    # A model's keys share one slot; a transaction cannot span slots.
    # NOTE: one round trip per model on a Redis Cluster.
    answers: list[Any] = []
    for bkeys in roots:
        answers += _queue_backlog(buffer.pipeline(transaction=True), [bkeys]).execute()
    return answers


def _queue_backlog(pipe: Any, roots: Sequence[Any]) -> Any:
    for bkeys in roots:
        pipe.zcard(bkeys.pending)
        pipe.zrange(bkeys.pending, 0, 0, withscores=True)
        pipe.hlen(bkeys.claimed)
        pipe.llen(bkeys.dead)
        pipe.hmget(bkeys.stats, ["rows", "writes"])
        pipe.zrange(bkeys.since, 0, 0, withscores=True)
    return pipe


def entries_exist(keys: Sequence[str]) -> list[bool]:
    """Whether each of ``keys`` exists in the entries' Redis (CACHE_ALIAS), pipelined."""
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.exists(key)
    return [bool(found) for found in pipe.execute()]


def eviction_policy() -> str | None:
    """The maxmemory-policy of the buffer's Redis (None if it cannot be read); on a Redis
    Cluster, the first evicting policy among its primaries (or the first one read)."""
    try:
        redis = get_buffer_redis()
    except NotImplementedError:
        return None  # not django-redis (distcache.E003)
    except RedisError:
        return None  # a cluster out of reach (a cluster client connects when made)
    try:
        if routed.is_cluster(redis):
            return _cluster_policy(redis)
        try:
            return redis.config_get("maxmemory-policy").get("maxmemory-policy")
        except RedisError:
            # CONFIG may be renamed or denied; INFO is always there.
            return redis.info("memory").get("maxmemory_policy")
    except RedisError:
        return None


def _cluster_policy(cluster: Any) -> str | None:
    """The policy of the primaries: any of them may hold a model's buffer."""
    policies = [
        cluster.get_redis_connection(node).config_get("maxmemory-policy").get("maxmemory-policy")
        for node in cluster.get_primaries()
    ]
    evicting = [policy for policy in policies if policy and policy.startswith("allkeys-")]
    return (evicting or policies or [None])[0]
