"""Read replicas: a miss shortly after an invalidation reads the primary (REPLICA_LAG)."""

from __future__ import annotations

from collections.abc import Sequence

from django_distcache.conf import get_settings
from django_distcache.redis.entries import count_existing, mark_for
from django_distcache.redis.errors import RedisError

# NOTE: "!" is never in an entry or generation key (keys.LEASE_SUFFIX says why).
RECENT = "!recent"


def primary_of(using: str) -> str:
    """The alias whose data ``using`` replicates (itself when it is no replica)."""
    replicas = get_settings().REPLICAS
    return replicas.get(using, using) if isinstance(replicas, dict) else using


def mark_recent(generations: Sequence[str], entries: Sequence[str]) -> None:
    """Mark these keys as invalidated REPLICA_LAG ago at most (one round trip)."""
    lag_ms = int(get_settings().REPLICA_LAG * 1000)
    if lag_ms <= 0:
        return
    mark_for([key + RECENT for key in (*generations, *entries)], lag_ms)


def read_alias(using: str, generation_keys: Sequence[str], keys: Sequence[str]) -> str:
    """Where a miss of ``keys`` is loaded: the primary if ``using`` is a replica and any of
    them or their generations was invalidated less than REPLICA_LAG seconds ago.

    NOTE: one more round trip, on misses read from a replica with REPLICA_LAG on.
    """
    primary = primary_of(using)
    if primary == using or get_settings().REPLICA_LAG <= 0:
        return using
    try:
        recent = count_existing([key + RECENT for key in (*keys, *generation_keys)])
    except RedisError:
        return primary
    return primary if recent else using
