"""The near cache (L1): decoded values and generations held in the process, bounded.

An entry holds a decoded value with the generation values it was read under; it is a
hit while the process's copy of each of those generations still has that value, its
key was not invalidated and it is younger than NEAR_CACHE_MAX_AGE. The subscriber
(``channel``) drops generations and entries as invalidations are published, and
empties the cache when it may have missed one. Fills check the invalidations applied
since their read started, so a reply that crossed an invalidation is never kept.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django_distcache.conf import get_settings

# Invalidations remembered for the fills of reads in flight; a read that started
# further back than this fills nothing.
RECENT = 1024
# Entry keys invalidated lately, remembered as a hint that Redis holds nothing there.
DROPPED = 4096
NOT_LIVE = -1
_ENTRY_OVERHEAD = 320


@dataclass(slots=True)
class Entry:
    """One value in the near cache."""

    value: Any
    # What each hit copies (parts a caller could change); falsy for nothing.
    copies: Any
    generations: tuple[tuple[str, bytes], ...]
    expires: float
    size: int


class NearCache:
    """The process's near cache: entries (LRU, bounded in number and bytes) and generations."""

    def __init__(self, max_entries: int, max_bytes: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        # generation key -> (value, monotonic time after which it is not used)
        self.generations: dict[str, tuple[bytes, float]] = {}
        self.bytes = 0
        self.live = False
        # Invalidations and clears applied, numbered: what a fill checks.
        self.applied = 0
        self.recent: deque[tuple[int, frozenset[str] | None, frozenset[str]]] = deque(maxlen=RECENT)
        # The keys of the last DROPPED entries invalidated and not read since (oldest first).
        self.dropped: dict[str, None] = {}
        self.hits = self.misses = self.fills = self.refused = self.clears = self.evictions = 0
        self.subscriber: Any = None

    # The hot path: no lock, no I/O.
    def lookup(self, key: str) -> Entry | None:
        """The entry at ``key`` if it is still current, else None."""
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if time.monotonic() >= entry.expires:
            self.misses += 1
            return None
        generations = self.generations
        for name, value in entry.generations:
            held = generations.get(name)
            if held is None or held[0] != value:
                self.misses += 1
                return None
        # NOTE: try/except, not contextlib.suppress: this is every hit's cost.
        try:  # noqa: SIM105
            self.entries.move_to_end(key)
        except KeyError:  # dropped by another thread meanwhile: this read came first
            pass
        self.hits += 1
        return entry

    def outdated(self, key: str) -> bool:
        """Whether L1 holds an entry at ``key`` that is no longer a hit, or saw ``key``
        invalidated lately: Redis most likely holds the same outdated entry, or none
        (a hint, not a guarantee: another process may have stored a new one)."""
        return key in self.entries or key in self.dropped

    def mark(self) -> int:
        """Taken before a read starts, for its fill: NOT_LIVE while messages may be missed."""
        return self.applied if self.live else NOT_LIVE

    def missing_generations(self, names: Sequence[str]) -> list[str]:
        """Those of generations ``names`` this process does not hold: to read (one MGET)
        before ``current_generations``."""
        now = time.monotonic()
        generations = self.generations
        missing = []
        for name in names:
            held = generations.get(name)
            if held is None or held[1] <= now:
                missing.append(name)
        return missing

    def current_generations(
        self, names: Sequence[str], mark: int, read: dict[str, bytes | None], read_at: float
    ) -> tuple[tuple[tuple[str, bytes], ...], float] | None:
        """The values of generations ``names`` and when that knowledge expires, from those
        held and those ``read`` (from Redis, since ``read_at``: kept, unless an
        invalidation of theirs was applied since ``mark``). None if one does not exist."""
        now = time.monotonic()
        found: dict[str, tuple[bytes, float]] = {}
        fetched: list[str] = []
        generations = self.generations
        for name in names:
            held = generations.get(name)
            if held is not None and held[1] > now:
                found[name] = held
            elif read.get(name) is not None:
                fetched.append(name)
            else:
                return None  # not created yet (or dropped since it was found held)
        if fetched:
            # NOTE: counted from before the read: no knowledge outlives the maximum age.
            expires = read_at + self.max_age
            with self.lock:
                if self._quiet_since(mark, fetched, None):
                    for name in fetched:
                        generations[name] = (read[name], expires)  # type: ignore[assignment]
            for name in fetched:
                found[name] = (read[name], expires)  # type: ignore[assignment]
        pairs = tuple((name, found[name][0]) for name in names)
        return pairs, min(held[1] for held in found.values()) if found else now + self.max_age

    def fill(
        self,
        key: str,
        value: Any,
        copies: Any,
        generations: tuple[tuple[str, bytes], ...],
        expires: float,
        size: int,
        mark: int,
    ) -> bool:
        """Keep ``value`` unless an invalidation touching it was applied since ``mark``."""
        # NOTE: what holding it costs besides the value: its key, the Entry, its place
        # in the OrderedDict and the generation pairs (measured, about 0.5 kB).
        size += sys.getsizeof(key) + _ENTRY_OVERHEAD + 64 * len(generations)
        if size > self.max_bytes or self.max_entries <= 0:
            return False
        names = [name for name, _value in generations]
        entry = Entry(value, copies, generations, expires, size)
        with self.lock:
            if not self._quiet_since(mark, names, key):
                self.refused += 1
                return False
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self.dropped.pop(key, None)
            self.entries[key] = entry
            self.bytes += size
            self.fills += 1
            while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
                _key, evicted = self.entries.popitem(last=False)
                self.bytes -= evicted.size
                self.evictions += 1
        return True

    def _quiet_since(self, mark: int, names: Iterable[str], key: str | None) -> bool:
        """Whether nothing applied since ``mark`` touches ``names`` or ``key`` (under lock)."""
        if mark == NOT_LIVE or not self.live:
            return False
        if self.applied == mark:
            return True
        recent = self.recent
        if not recent or recent[0][0] > mark + 1:
            return False  # older than what is remembered
        names = set(names)
        for number, generations, entries in reversed(recent):
            if number <= mark:
                break
            if generations is None or not names.isdisjoint(generations):
                return False
            if key is not None and key in entries:
                return False
        return True

    def drop(self, generations: Iterable[str], entries: Iterable[str]) -> None:
        """Forget ``generations`` (their entries stop being hits) and ``entries``."""
        generations, entries = frozenset(generations), frozenset(entries)
        with self.lock:
            self.applied += 1
            self.recent.append((self.applied, generations, entries))
            for name in generations:
                self.generations.pop(name, None)
            dropped = self.dropped
            for key in entries:
                entry = self.entries.pop(key, None)
                if entry is not None:
                    self.bytes -= entry.size
                dropped.pop(key, None)
                dropped[key] = None  # the newest last
            while len(dropped) > DROPPED:
                del dropped[next(iter(dropped))]

    def evict(self, key: str) -> None:
        """Forget the entry at ``key`` as the LRU bound does: no invalidation, so the next
        read of it sends the GET of the entry alone."""
        with self.lock:
            entry = self.entries.pop(key, None)
            if entry is not None:
                self.bytes -= entry.size
                self.evictions += 1

    def clear(self, *, live: bool) -> None:
        """Forget everything; ``live``: whether messages are received from now on."""
        with self.lock:
            self.applied += 1
            self.recent.append((self.applied, None, frozenset()))
            self.entries.clear()
            self.generations.clear()
            self.dropped.clear()
            self.bytes = 0
            self.clears += 1
            self.live = live

    def info(self) -> dict[str, Any]:
        """Counters and sizes of this process's near cache."""
        return {
            "live": self.live,
            "entries": len(self.entries),
            "bytes": self.bytes,
            "generations": len(self.generations),
            "hits": self.hits,
            "misses": self.misses,
            "fills": self.fills,
            "refused": self.refused,
            "evictions": self.evictions,
            "clears": self.clears,
            "applied": self.applied,
            "sequence": getattr(self.subscriber, "last", None),
        }


_cache: NearCache | None = None
_start_lock = threading.Lock()


def near_cache() -> NearCache:
    """The process's near cache; its subscriber starts with the first call."""
    cache = _cache
    if cache is None:
        cache = _start()
    return cache


def _start() -> NearCache:
    global _cache
    from django_distcache.reads.channel import Subscriber

    with _start_lock:
        if _cache is None:
            conf = get_settings()
            cache = NearCache(
                int(conf.NEAR_CACHE_MAX_ENTRIES),
                int(conf.NEAR_CACHE_MAX_BYTES),
                float(conf.NEAR_CACHE_MAX_AGE),
            )
            cache.subscriber = Subscriber(cache)
            cache.subscriber.start()
            _cache = cache
        return _cache


def started() -> NearCache | None:
    """The near cache if this process has started it, else None."""
    return _cache


def reset() -> None:
    """Stop the subscriber and forget the near cache (settings changed, or a test)."""
    global _cache
    with _start_lock:
        cache, _cache = _cache, None
    if cache is not None:
        cache.clear(live=False)
        if cache.subscriber is not None:
            cache.subscriber.stop()


def drop_applied(generations: Iterable[str], entries: Iterable[str]) -> None:
    """An invalidation this process applied: its near cache drops it at once, rather than
    when the message comes back (the writer reads its own write)."""
    cache = _cache
    if cache is not None and (generations or entries):
        cache.drop(generations, entries)


def _forget_after_fork() -> None:
    # The subscriber thread does not exist in a forked child: start another there.
    global _cache
    _cache = None


os.register_at_fork(after_in_child=_forget_after_fork)
