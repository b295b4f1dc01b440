"""Read-only look at one cache entry: its value, TTL, generations and lease (no writes)."""

from __future__ import annotations

from typing import Any

from django_distcache import keys
from django_distcache.reads import readthrough
from django_distcache.redis.entries import read_entry
from django_distcache.registry import NotRegistered, find_config, resolve_model

PREVIEW = 300


class NothingCached(LookupError):
    """No entry under that key, or a target that names no cacheable entry."""


def key_of_get_or_set(key: str) -> str:
    """The Redis key of a get_or_set ``key``'s entry."""
    return keys.entry_base("key", "get_or_set", key)


def key_of_object(label: str, pk: str) -> str:
    """The Redis key of the cached object ``pk`` of the registered model ``label``."""
    try:
        model = resolve_model(label)
    except LookupError as exc:
        raise NothingCached(str(exc)) from exc
    config = find_config(model)
    if config is None:
        raise NothingCached(str(NotRegistered(f"{model._meta.label} is not registered.")))
    try:
        value = model._meta.pk.to_python(pk)
    except Exception as exc:  # a ValidationError of the pk field's type
        raise NothingCached(f"{pk!r} is not a primary key of {model._meta.label}.") from exc
    return config.object_base(value)


def inspect_entry(full_key: str) -> dict[str, Any]:
    """What is stored under ``full_key``; raises NothingCached or RedisError."""
    stored, ttl_ms, leased = read_entry(full_key)
    if stored is None:
        raise NothingCached(f"Nothing is cached under {full_key}.")
    generations, _, data = stored.partition(b"|")
    parts = readthrough.split_entry(stored)
    if parts is not None:
        data = parts[2]
    try:
        value = repr(readthrough.serializer().loads(data))
    except ValueError as exc:
        value = f"<cannot decode: {exc}>"
    return {
        "key": full_key,
        "generations": generations.decode() or "(none)",
        "ttl": ttl_ms / 1000 if ttl_ms >= 0 else None,
        "size": len(stored),
        "leased": leased,
        "value": value[:PREVIEW],
    }
