"""The outbox's Redis keys: the epoch every entry lives under, acknowledgements, the floor."""

from __future__ import annotations

from collections.abc import Sequence

from django_distcache import keys
from django_distcache.conf import DistcacheSettings, get_settings

_epoch: tuple[DistcacheSettings | None, str] = (None, "")


def epoch_key() -> str:
    """The generation every entry lives under: bumping it empties the cache in O(1)."""
    global _epoch
    conf = get_settings()
    if _epoch[0] is not conf:
        _epoch = (conf, keys.generation_key("epoch"))
    return _epoch[1]


def with_epoch(generation_keys: Sequence[str]) -> list[str]:
    """``generation_keys`` preceded by the epoch (what a read or a store checks)."""
    return [epoch_key(), *generation_keys]


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
