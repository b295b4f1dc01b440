"""Pure key building: readable, length-bounded, whitespace-free Redis keys."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, models

from django_distcache.conf import get_settings

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/:=,]")
_DIGEST_BYTES = 10


def digest(text: str) -> str:
    """A short, stable hex digest of ``text``."""
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST_BYTES).hexdigest()


def safe_part(text: str, limit: int | None = None) -> str:
    """Make ``text`` safe inside a key: no whitespace or control characters, bounded length.

    A part that had to be changed or cut keeps a readable beginning and gains a digest
    of the original, so two different inputs never share a key.
    """
    if limit is None:
        limit = max(32, get_settings().MAX_KEY_LENGTH - 60)
    cleaned = _UNSAFE.sub("_", text)
    if cleaned == text and len(text) <= limit:
        return text
    keep = max(0, limit - 2 * _DIGEST_BYTES - 1)
    return f"{cleaned[:keep]}#{digest(text)}"


_prefix: tuple[object, str] = (None, "")


def prefix() -> str:
    """``KEY_PREFIX`` made safe (worked out once per settings)."""
    global _prefix
    conf = get_settings()
    if _prefix[0] is not conf:
        _prefix = (conf, safe_part(conf.KEY_PREFIX, 40))
    return _prefix[1]


def entry_base(kind: str, namespace: str, part: str) -> str:
    """The key of an entry before its generations are appended (in Redis, by the script)."""
    conf = get_settings()
    return f"{prefix()}:v{conf.SCHEMA_VERSION}:{kind}:{safe_part(namespace, 80)}:{safe_part(part)}"


# NOTE: "!", "{" and "}" are never in an entry key (safe_part replaces them), so no pk or
# argument can spell another entry's lease.
LEASE_SUFFIX = "!lease"


def lease_key(entry: str) -> str:
    """The key of the lease on ``entry`` (held by the one process loading it).

    The entry is the lease's hash tag: on a Redis Cluster an entry and its lease are in
    one slot (the entry's own, as its key holds no braces), so one script takes both.
    """
    return "{" + entry + "}" + LEASE_SUFFIX


def generation_key(name: str) -> str:
    """The Redis key holding the generation counter of one namespace or tag."""
    return f"{prefix()}:gen:{safe_part(name, 120)}"


_epoch: tuple[object, str] = (None, "")


def epoch_key() -> str:
    """The generation every entry lives under: bumping it empties the cache in O(1)."""
    global _epoch
    conf = get_settings()
    if _epoch[0] is not conf:
        _epoch = (conf, generation_key("epoch"))
    return _epoch[1]


def with_epoch(generation_keys: Sequence[str]) -> list[str]:
    """``generation_keys`` preceded by the epoch (what a read or a store checks)."""
    return [epoch_key(), *generation_keys]


def model_label(model: type[models.Model]) -> str:
    """The label of the table-owning model: a proxy reads and writes its concrete model's."""
    return model._meta.concrete_model._meta.label_lower  # type: ignore[union-attr]


@cache
def _family_of(label: str) -> str:
    """The name of the multi-table inheritance family holding ``label``.

    Parents, children and every model linked to them by inheritance share a family: a
    write through any of them can change a row the others read. Named by the smallest
    label of its members, so historical models (migrations) find the same name.
    """
    links: dict[str, set[str]] = {}
    for model in apps.get_models():
        own = model._meta.label_lower
        for parent in model._meta.parents:
            links.setdefault(own, set()).add(parent._meta.label_lower)
            links.setdefault(parent._meta.label_lower, set()).add(own)
    seen, todo = {label}, [label]
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return min(seen)


def family_label(model: type[models.Model]) -> str:
    """The namespace shared by ``model``, its proxies, parents and children."""
    return _family_of(model_label(model))


def model_generation(model: type[models.Model]) -> str:
    """Bumped on every change to ``model``'s family: invalidates what depends on it."""
    return generation_key(f"model:{family_label(model)}")


def objects_generation(model: type[models.Model]) -> str:
    """Bumped when every cached object of ``model``'s family must go (writes whose rows
    are unknown, invalidate(Model))."""
    return generation_key(f"objects:{family_label(model)}")


def pk_text(model: type[models.Model], pk: Any) -> str:
    """The one spelling of a primary key in keys, however the caller spelled it.

    The pk field's ``to_python`` turns "5", 5.0 and Decimal(5) into 5 and a UUID's
    hyphenated, hex or ``urn:`` forms into one UUID, which is written as hex.
    """
    value = model._meta.pk.to_python(pk)  # type: ignore[union-attr]
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


def database_part(using: str | None) -> str:
    """The part of an object key naming the database it was read from ("" for default).

    A replica (DISTCACHE['REPLICAS']) is named by its primary: they hold the same rows.
    """
    replicas = get_settings().REPLICAS
    if isinstance(replicas, dict):
        using = replicas.get(using, using)
    if using is None or using == DEFAULT_DB_ALIAS:
        return ""
    return f"/{safe_part(using, 40)}"


def tag_generation(tag: str) -> str:
    return generation_key(f"tag:{tag}")


def function_generation(namespace: str) -> str:
    return generation_key(f"fn:{namespace}")


def field_fingerprint(model: type[models.Model]) -> str:
    """Changes when the model's concrete fields change, so old encodings are never read."""
    parts = (f"{f.attname}:{f.get_internal_type()}" for f in model._meta.concrete_fields)
    return digest(",".join(parts))[:8]


def object_prefix(model: type[models.Model], using: str | None = None) -> str:
    """What the keys of ``model``'s rows read from ``using`` begin with."""
    namespace = f"{model_label(model)}.{field_fingerprint(model)}{database_part(using)}"
    return entry_base("obj", namespace, "")


def pk_part(model: type[models.Model], pk: object) -> str:
    """The last part of a row's key: its primary key in the one spelling, made key-safe."""
    text = pk_text(model, pk)
    return text if text.isascii() and text.isdigit() else safe_part(text)


def object_base(model: type[models.Model], pk: object, using: str | None = None) -> str:
    """The key of one cached row (before generations); ``pk`` in any spelling."""
    return object_prefix(model, using) + pk_part(model, pk)


def dedupe(keys: Iterable[str]) -> list[str]:
    """Keys in first-seen order, each once."""
    return list(dict.fromkeys(keys))
