"""The outbox's Redis keys: the epoch every entry lives under, acknowledgements, the floor."""

from __future__ import annotations

from django_distcache import keys
from django_distcache.keys import epoch_key, with_epoch

__all__ = ["acked_key", "epoch_key", "floor_key", "member", "with_epoch"]


# The acknowledgements and the floor share a hash tag: outbox_floor.lua takes both (on a
# Redis Cluster, in one slot).
def acked_key() -> str:
    """Set of outbox rows (``<database alias>:<id>``) whose invalidation Redis has."""
    return f"{{{keys.prefix()}:outbox}}:acked"


def floor_key() -> str:
    """Hash: database alias -> deletion rounds of that database's outbox Redis has seen."""
    return f"{{{keys.prefix()}:outbox}}:floor"


def member(alias: str, row_id: int) -> str:
    return f"{alias}:{row_id}"
