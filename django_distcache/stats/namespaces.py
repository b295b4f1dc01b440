"""Which statistics namespace a Redis key or an invalidation belongs to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_distcache import keys
from django_distcache.stats import recorder

# NOTE: keys other than entries are counted under these names, so an eviction of
# a generation or of the statistics themselves is never silently dropped. With a
# volatile-* maxmemory-policy only keys with a TTL (entries) can be evicted.
GENERATIONS = "(generations)"
STATISTICS = "(statistics)"
OTHER = "(other keys)"


def namespace_of_generation(generation_key: str) -> str:
    """``model:app.model`` and ``objects:app.model`` -> ``app.model``; ``tag:x`` stays;
    ``fn:module.function`` -> ``module.function``."""
    name = generation_key.removeprefix(keys.prefix() + ":gen:")
    kind, _, rest = name.partition(":")
    if kind in ("model", "objects", "fn"):
        return rest
    return name


def namespace_of_base(base: str) -> str:
    """The namespace of an entry key (with or without its generations and lease suffix)."""
    prefix = keys.prefix() + ":"
    if not base.startswith(prefix):
        return OTHER
    parts = base[len(prefix) :].split(":", 3)
    if parts[0] == "gen":
        return GENERATIONS
    if parts[0] == "stats":
        return STATISTICS
    if len(parts) < 4 or not parts[0].startswith("v"):
        return OTHER
    kind, namespace = parts[1], parts[2]
    if kind == "obj":
        # "app_label.model.<field fingerprint>"
        return namespace.rsplit(".", 1)[0]
    return namespace


namespace_of_key = namespace_of_base


def _entry_keys(entries: Iterable[str] | dict[Any, Iterable[str]]) -> Iterable[str]:
    # Entry keys, given as a list or grouped in a dict by the generations they live under.
    if isinstance(entries, dict):
        return [key for group in entries.values() for key in group]
    return entries


def _without_database(key: str) -> str:
    """An object key without its database part (``label.fingerprint/alias``)."""
    start = key.find(":obj:") + len(":obj:")
    end = key.find(":", start)
    if start < len(":obj:") or end < 0:
        return key
    return key[:start] + key[start:end].partition("/")[0] + key[end:]


# (key prefix, entry key without its last part) -> (namespace, that part without its
# database alias); (key prefix, generation key) -> namespace. Bounded: emptied when full.
_stems: dict[tuple[str, str], tuple[str, str]] = {}
_generations: dict[tuple[str, str], str] = {}
_MOST_REMEMBERED = 4096


def _stem(prefix: str, stem: str) -> tuple[str, str]:
    """(namespace, stem without its database alias) of the keys ``<stem>:<last part>``."""
    known = _stems.get((prefix, stem))
    if known is None:
        if len(_stems) >= _MOST_REMEMBERED:
            _stems.clear()
        probe = _without_database(stem + ":-")
        known = _stems[prefix, stem] = (namespace_of_base(probe), probe[:-2])
    return known


def _generation(prefix: str, generation_key: str) -> str:
    known = _generations.get((prefix, generation_key))
    if known is None:
        if len(_generations) >= _MOST_REMEMBERED:
            _generations.clear()
        known = _generations[prefix, generation_key] = namespace_of_generation(generation_key)
    return known


def count_invalidated(
    sender: Any,
    generations: list[str],
    entries: Iterable[str] | dict[Any, Iterable[str]],
    **kwargs: Any,
) -> None:
    """Receiver of ``invalidated``: one invalidation per entry dropped, and one per
    namespace bumped without dropping entries of its own (a save counts once)."""
    if not recorder.enabled():
        return
    prefix = keys.prefix()
    dropped: dict[str, int] = {}
    # A row's copies read from several databases (key part "/alias") count once.
    rows: set[tuple[str, str]] = set()
    for key in _entry_keys(entries):
        stem, _, last = key.rpartition(":")
        namespace, row_stem = _stem(prefix, stem)
        if (row_stem, last) not in rows:
            rows.add((row_stem, last))
            dropped[namespace] = dropped.get(namespace, 0) + 1
    bumped = {_generation(prefix, g) for g in generations} - set(dropped)
    for namespace, amount in dropped.items():
        recorder.count(namespace, "invalidations", amount)
    for namespace in bumped:
        recorder.count(namespace, "invalidations")
