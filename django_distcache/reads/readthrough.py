"""The read path: one round trip on a hit; leases, single-flight and a bounded wait on a miss.

An entry is stored at a fixed key as ``b"<generations>|<expires>:<delta>:<limit>|<data>"``:
it is current only while the generations it was loaded under (its namespace,
dependencies and tags) are still the current ones, so bumping a generation invalidates
a whole group in O(1) and the old entries are overwritten by the next load or age out by
TTL. ``expires`` (when it goes stale, on Redis's clock) and ``delta`` (how long its load
took) travel inside the entry, so early refresh (XFetch) and stale-while-revalidate are
decided with the read, at no extra round trip; ``limit`` bounds a sliding entry.

The first round trip of every read is ``lua/read.lua``: it returns the entry if it is
current and otherwise takes its lease, so a miss costs that round trip, the load and
one store, and a hit costs one round trip. A stale hit within its grace period takes
the lease in that round trip, so one process refreshes it; a hit that draws an early
refresh takes it with one more (``lua/lease.lua``): one process refreshes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from django_distcache import stats
from django_distcache.conf import DistcacheSettings, get_settings
from django_distcache.reads.answers import (
    HELD_ELSEWHERE,
    LEASE_TAKEN,
    Encoder,
    encode_loaded,
    sort_answers,
    ttl_ms,
)
from django_distcache.reads.leases import kept_alive, new_token, release
from django_distcache.redis import readpath
from django_distcache.redis.entries import delete_entries
from django_distcache.redis.errors import RedisError
from django_distcache.redis.readpath import lease_early, read_call, read_or_lease, store_call

__all__ = [
    "HELD_ELSEWHERE",
    "LEASE_TAKEN",
    "PLAIN",
    "Encoder",
    "Freshness",
    "check_options",
    "fetch",
    "fetch_many",
    "freshness",
    "load_and_store",
    "new_token",
    "read_call",
    "read_or_lease",
    "release",
    "serializer",
    "store",
    "store_call",
    "ttl_ms",
]

logger = logging.getLogger("django_distcache")

# Describes the refresh of some keys as JSON-safe Celery task arguments, or None if it
# cannot travel to a worker (see ``django_distcache.reads.refresh``).
Describe = Callable[[list[str]], "dict[str, Any] | None"]

_FIRST_POLL = 0.001
_LONGEST_POLL = 0.025


@dataclass(frozen=True)
class Freshness:
    """How the entries of one namespace age, in milliseconds: served stale for
    ``stale_ms`` after they expire (while one refresh runs), and, when ``slide_ms``,
    kept ``slide_ms`` after their last read but never ``max_age_ms`` after their load."""

    stale_ms: int = 0
    slide_ms: int = 0
    max_age_ms: int = 0
    # read.lua's arguments, encoded once (NOTE: a hit pays no formatting for them).
    read_args: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        args = (str(self.stale_ms).encode(), str(self.slide_ms).encode())
        object.__setattr__(self, "read_args", args)


PLAIN = Freshness()


def check_options(stale_while_revalidate: Any, sliding: Any) -> None:
    """Raise ValueError naming a bad ``stale_while_revalidate`` or ``sliding`` argument."""
    if stale_while_revalidate is not None and not (
        isinstance(stale_while_revalidate, (int, float))
        and not isinstance(stale_while_revalidate, bool)
        and stale_while_revalidate >= 0
    ):
        raise ValueError(
            "stale_while_revalidate must be a number of seconds >= 0, or None for "
            f"DISTCACHE['STALE_WHILE_REVALIDATE']; got {stale_while_revalidate!r}."
        )
    if sliding is not None and not isinstance(sliding, bool):
        raise ValueError(
            f"sliding must be True, False or None for DISTCACHE['SLIDING']; got {sliding!r}."
        )


def freshness(
    timeout: float | None, stale_while_revalidate: float | None, sliding: bool | None
) -> Freshness:
    """The Freshness of a namespace from its options (None: the DISTCACHE setting)."""
    check_options(stale_while_revalidate, sliding)
    return _freshness(get_settings(), timeout, stale_while_revalidate, sliding)


@lru_cache(maxsize=256)
def _freshness(
    conf: DistcacheSettings,
    timeout: float | None,
    stale_while_revalidate: float | None,
    sliding: bool | None,
) -> Freshness:
    # A bad setting is distcache.E070; reads go on as if it were off.
    if stale_while_revalidate is None:
        stale_while_revalidate = _seconds_or_zero(conf.STALE_WHILE_REVALIDATE)
    if sliding is None:
        sliding = conf.SLIDING is True
    stale_ms = int(stale_while_revalidate * 1000)
    max_age = _seconds_or_zero(conf.SLIDING_MAX_AGE)
    if not (sliding and timeout and max_age):
        return Freshness(stale_ms) if stale_ms else PLAIN
    return Freshness(stale_ms, int(timeout * 1000), int(max_age * 1000))


def _seconds_or_zero(value: Any) -> float:
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return value if valid else 0


def early_refresh_beta() -> float:
    """EARLY_REFRESH_BETA, or 0 (off) if it is not a number >= 0 (distcache.E070)."""
    return _seconds_or_zero(get_settings().EARLY_REFRESH_BETA)


@lru_cache(maxsize=4)
def _serializer_for(conf: DistcacheSettings) -> Any:
    cls = import_string(conf.SERIALIZER)
    try:
        return cls(compress_min_bytes=conf.COMPRESS_MIN_BYTES)
    except TypeError:
        return cls()


def serializer() -> Any:
    """The configured codec of cached values."""
    return _serializer_for(get_settings())


def split_entry(stored: bytes) -> tuple[bytes, int, bytes] | None:
    """(generations, expires in Redis ms or 0, data) of a stored entry, None if it is
    not in this release's format."""
    loaded_under, _, rest = stored.partition(b"|")
    meta, bar, data = rest.partition(b"|")
    expires = meta.partition(b":")[0]
    if not bar or not expires.isdigit():
        return None
    return loaded_under, int(expires), data


def current_data(stored: bytes | None, generations: Sequence[bytes | None]) -> bytes | None:
    """The data of ``stored`` if it was loaded under ``generations`` and has not expired
    (by this machine's clock: an expired entry is left to the read script), else None."""
    if stored is None or None in generations:
        return None
    parts = split_entry(stored)
    if parts is None or parts[0] != b".".join(generations):  # type: ignore[arg-type]
        return None
    if parts[1] and parts[1] <= time.time() * 1000:
        return None
    return parts[2]


def data_of(entry: bytes) -> bytes:
    """The data of a stored entry (read.lua returned it as current)."""
    return entry.split(b"|", 2)[2]


def store(
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    *,
    load_seconds: float = 0.0,
    policy: Freshness = PLAIN,
) -> int:
    """Store (key, token, data, ttl_ms) items if their leases and generations still hold.

    ``load_seconds`` (how long their load took) is kept in each entry for early refresh.
    Leases whose store is refused (a generation moved on) are released at once.
    """
    if not items:
        return 0
    return readpath.store(generation_keys, generations, items, load_seconds, policy)


def store_later(
    namespace: str,
    generation_keys: Sequence[str],
    generations: bytes,
    items: Sequence[tuple[str, str, bytes, int]],
    *,
    load_seconds: float = 0.0,
    policy: Freshness = PLAIN,
) -> None:
    """``store`` without waiting for its reply (read with this thread's next command).

    NOTE: a miss is then one blocking round trip (read-or-lease) plus the load. A store
    lost with its connection is only a cache fill that did not happen: its lease expires.
    """
    if not items:
        return

    def stored(reply: Any) -> None:
        # Counted as stored when sent; a store refused (a generation moved on) is taken back.
        stats.record_set(namespace, (reply if isinstance(reply, int) else 0) - len(items))
        if not isinstance(reply, int):
            logger.warning("django_distcache could not store %d entries: %s", len(items), reply)

    count = readpath.store_later(generation_keys, generations, items, load_seconds, policy, stored)
    stats.record_set(namespace, len(items) if count is None else count)


def fetch(
    namespace: str,
    generation_keys: Sequence[str],
    key: str,
    loader: Callable[[], Any],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
    policy: Freshness = PLAIN,
    describe: Describe | None = None,
) -> Any:
    """Return the entry at ``key``, loading it once across all processes on a miss.

    A hit is one round trip. On a miss the caller that took the lease loads and
    stores; others wait (bounded by MAX_WAIT) for the value, and take the lease
    themselves if its holder died or took it under older generations. A value
    loaded before a concurrent write committed is never stored. An entry due for an
    early refresh is reloaded here by the one reader that takes its lease; a stale one
    (``policy.stale_ms``) is served while a worker (as ``describe`` says) or a thread
    reloads it.
    """
    return fetch_many(
        namespace,
        generation_keys,
        [key],
        lambda _keys: {key: loader()},
        encode=encode,
        decode=decode,
        timed=True,
        policy=policy,
        describe=describe,
    )[key]


def fetch_many(
    namespace: str,
    generation_keys: Sequence[str],
    keys: Sequence[str],
    load: Callable[[list[str]], dict[str, Any]],
    *,
    encode: Encoder,
    decode: Callable[[bytes], Any],
    timed: bool = False,
    policy: Freshness = PLAIN,
    describe: Describe | None = None,
) -> dict[str, Any]:
    """The entries at ``keys``; ``load(missing keys)`` is called for the leases taken here.

    Keys whose lease another process holds are waited for (up to MAX_WAIT), like
    ``fetch``; leases are released if ``load`` raises. Hits and misses are counted; only a
    ``timed`` read (``fetch``: one key) adds a read latency sample, a batch's round trip
    being no one read's latency.
    """
    started = time.perf_counter()
    token = new_token()
    found: dict[str, Any] = {}
    pending = list(keys)
    deadline = started + get_settings().MAX_WAIT
    pause = _FIRST_POLL
    waited = False
    beta = early_refresh_beta()
    while True:
        try:
            _generations, *answers = read_or_lease(generation_keys, pending, token, policy)
        except RedisError:
            found.update(load(pending))
            return found
        generations: bytes = _generations
        elapsed = time.perf_counter() - started if timed else 0.0
        round_ = sort_answers(
            namespace, pending, answers, decode, found, elapsed=elapsed, waited=waited, beta=beta
        )
        owned, held, unreadable = round_.owned, round_.held, round_.unreadable
        renew, early = round_.renew, round_.early
        if early:
            # NOTE: one more round trip, only for a hit that drew an early refresh.
            early = [key for key in early if key not in unreadable and key not in renew]
            renew += lease_early(generation_keys, early, token, generations) if early else []
        if renew:
            release([(key, token) for key in renew if key in unreadable])
            renew = [key for key in renew if key not in unreadable]
            if policy.stale_ms:
                refresh_later = (namespace, generation_keys, load, encode, policy, describe)
                _refresh_in_background(refresh_later, renew, token, generations)
            else:
                owned.extend(renew)  # early refresh (XFetch): this reader reloads them
        if owned:
            if waited:
                for _key in owned:
                    stats.record_wait(namespace, timed_out=False)
            found.update(
                load_and_store(
                    namespace, generation_keys, owned, token, generations, load, encode, policy
                )
            )
        if unreadable:
            found.update(_reload_unreadable(unreadable, load))
        if not held:
            return found
        if time.perf_counter() >= deadline:
            for _key in held:
                stats.record_wait(namespace, timed_out=True)
            found.update(load(held))
            return found
        pending = held
        waited = True
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_POLL)


def _refresh_in_background(
    what: tuple[Any, ...], keys: list[str], token: str, generations: bytes
) -> None:
    """Start the refresh of ``keys`` (their leases held by ``token``) on a worker or a
    thread; if none can start, the leases are given up so the next reader tries again."""
    from django_distcache.reads import refresh

    namespace, generation_keys, load, encode, policy, describe = what

    def here(keys: list[str], token: str, generations: bytes) -> None:
        load_and_store(namespace, generation_keys, keys, token, generations, load, encode, policy)

    try:
        refresh.start(describe, here, keys, token, generations, policy)
    except Exception:
        logger.exception("django_distcache could not start the refresh of %d entries", len(keys))
        release([(key, token) for key in keys])


def _reload_unreadable(
    keys: list[str], load: Callable[[list[str]], dict[str, Any]]
) -> dict[str, Any]:
    """Delete unreadable entries and load them uncached (the next read stores them)."""
    try:
        delete_entries(keys)
    except RedisError:
        logger.warning("django_distcache could not delete %d unreadable entries", len(keys))
    return load(keys)


def load_and_store(
    namespace: str,
    generation_keys: Sequence[str],
    keys: list[str],
    token: str,
    generations: bytes,
    load: Callable[[list[str]], dict[str, Any]],
    encode: Encoder,
    policy: Freshness = PLAIN,
) -> dict[str, Any]:
    """Load ``keys`` and store them under the leases ``token`` holds (a miss, or a
    refresh in a thread or a worker): stored only if the leases and ``generations``
    still hold; the leases are released if the load fails or stores nothing."""
    leases = [(key, token) for key in keys]
    load_started = time.perf_counter()
    try:
        with kept_alive(leases):
            values = load(keys)
            load_seconds = time.perf_counter() - load_started
            items, unstored = encode_loaded(keys, values, token, encode)
    except BaseException:
        release(leases)
        raise
    stats.record_load(namespace, load_seconds)
    release(unstored)
    try:
        store_later(
            namespace,
            generation_keys,
            generations,
            items,
            load_seconds=load_seconds,
            policy=policy,
        )
    except RedisError:
        logger.warning("django_distcache could not store %d entries of %s", len(items), namespace)
    return values
