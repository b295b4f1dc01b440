"""Pure key building: readable, length-bounded, whitespace-free Redis keys."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from django.db import models

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


def prefix() -> str:
    return safe_part(get_settings().KEY_PREFIX, 40)


def entry_base(kind: str, namespace: str, part: str) -> str:
    """The key of an entry before its generations are appended (in Redis, by the script)."""
    conf = get_settings()
    return f"{prefix()}:v{conf.SCHEMA_VERSION}:{kind}:{safe_part(namespace, 80)}:{safe_part(part)}"


# NOTE: "!" is never in an entry key (safe_part replaces it), so no pk or argument can
# spell another entry's lease. The Lua scripts append the same suffix.
LEASE_SUFFIX = "!lease"


def lease_key(entry: str) -> str:
    """The key of the lease on ``entry`` (held by the one process loading it)."""
    return entry + LEASE_SUFFIX


def generation_key(name: str) -> str:
    """The Redis key holding the generation counter of one namespace or tag."""
    return f"{prefix()}:gen:{safe_part(name, 120)}"


def model_label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def model_generation(model: type[models.Model]) -> str:
    """Bumped on every change to ``model``: invalidates what depends on it."""
    return generation_key(f"model:{model_label(model)}")


def objects_generation(model: type[models.Model]) -> str:
    """Bumped when every cached object of ``model`` must go (bulk paths, invalidate(Model))."""
    return generation_key(f"objects:{model_label(model)}")


def tag_generation(tag: str) -> str:
    return generation_key(f"tag:{tag}")


def function_generation(namespace: str) -> str:
    return generation_key(f"fn:{namespace}")


def field_fingerprint(model: type[models.Model]) -> str:
    """Changes when the model's concrete fields change, so old encodings are never read."""
    parts = (f"{f.attname}:{f.get_internal_type()}" for f in model._meta.concrete_fields)
    return digest(",".join(parts))[:8]


def object_base(model: type[models.Model], pk: object) -> str:
    label = model_label(model)
    return entry_base("obj", f"{label}.{field_fingerprint(model)}", str(pk))


def dedupe(keys: Iterable[str]) -> list[str]:
    """Keys in first-seen order, each once."""
    return list(dict.fromkeys(keys))
