"""What one round of a read means, without I/O: shared by the sync and async read paths.

``readthrough.fetch_many`` and ``afetch.afetch_many`` send ``lua/read.lua`` and load,
store and wait each in their own way (blocking or awaited); what its answers mean (hits
decoded and counted, leases taken here or held elsewhere, entries to refresh) and what a
load stores are decided here, once for both.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django_distcache import stats
from django_distcache.conf import get_settings

logger = logging.getLogger("django_distcache")

HELD_ELSEWHERE = 0
LEASE_TAKEN = 1

# Turns a loaded value into (bytes, timeout in seconds or None for no expiry), or None
# to store nothing.
Encoder = Callable[[Any], "tuple[bytes, float | None] | None"]


@dataclass
class Round:
    """The keys of one read round, by what happens to them next."""

    owned: list[str] = field(default_factory=list)  # leases taken here: load and store
    held: list[str] = field(default_factory=list)  # leased elsewhere: wait for them
    unreadable: list[str] = field(default_factory=list)  # corrupt or foreign: reload
    renew: list[str] = field(default_factory=list)  # stale hits whose lease is ours
    early: list[str] = field(default_factory=list)  # hits that drew an early refresh


def ttl_ms(timeout: float | None) -> int:
    """The entry's time to live, with jitter, in milliseconds (0: never expires)."""
    if timeout is None:
        return 0
    jitter = get_settings().TIMEOUT_JITTER
    return max(1, int(timeout * 1000 * (1 - jitter * random.random())))


def due_early(meta: bytes, beta: float, now_ms: float) -> bool:
    """Whether a hit refreshes its entry now (XFetch, Vattani et al.): when
    ``now - delta * beta * ln(random) >= expires``, so the chance grows as expiry nears
    and with how long the entry took to load (``meta``: ``b"<expires>:<delta>:<limit>"``).

    NOTE: decided on this process's clock against the expiry Redis's clock wrote; a
    skewed clock only moves its readers' refreshes earlier or later. A draw happens
    only within 40 load times of expiry (past that its chance is below 1e-17).
    """
    gap = int(meta[:13]) - now_ms
    scale = int(meta[14 : meta.index(b":", 14)]) * beta
    return gap < 40 * scale and -scale * math.log(1.0 - random.random()) >= gap


def sort_answers(
    namespace: str,
    keys: Sequence[str],
    answers: Sequence[Any],
    decode: Callable[[bytes], Any],
    found: dict[str, Any],
    *,
    elapsed: float,
    waited: bool,
    beta: float = 0.0,
) -> Round:
    """Decode read.lua's hits into ``found`` and sort the other ``keys``; hits, misses
    and waits are counted. ``beta``: EARLY_REFRESH_BETA (0: no early refresh)."""
    sorted_ = Round()
    for key, answer in zip(keys, answers, strict=True):
        if isinstance(answer, list):  # a stale hit to refresh: its lease is ours
            answer = answer[0]
            sorted_.renew.append(key)
        if isinstance(answer, bytes):
            try:
                _, meta, data = answer.split(b"|", 2)
                if not meta[:13].isdigit():
                    raise ValueError("not an entry of this release")
                found[key] = decode(data)
            except Exception as error:  # a corrupt or foreign entry: a miss
                stats.record_miss(namespace, elapsed)
                sorted_.unreadable.append(key)
                logger.warning("django_distcache dropped unreadable entry %s: %r", key, error)
                continue
            # An expiry of all zeros (never expires) starts with b"0" (48).
            if beta and meta[0] != 48 and due_early(meta, beta, time.time() * 1000):
                sorted_.early.append(key)
            if waited:
                stats.record_wait(namespace, timed_out=False)
            else:
                stats.record_hit(namespace, elapsed)
            continue
        if not waited:
            stats.record_miss(namespace, elapsed)
        (sorted_.owned if answer == LEASE_TAKEN else sorted_.held).append(key)
    return sorted_


def encode_loaded(
    keys: Sequence[str], values: dict[str, Any], token: str, encode: Encoder
) -> tuple[list[tuple[str, str, bytes, int]], list[tuple[str, str]]]:
    """(key, token, data, ttl_ms) of the loaded values to store, and the (key, token)
    leases of those the encoder keeps out of the cache."""
    items: list[tuple[str, str, bytes, int]] = []
    unstored: list[tuple[str, str]] = []
    for key in keys:
        encoded = encode(values.get(key))
        if encoded is None:
            unstored.append((key, token))
        else:
            data, timeout = encoded
            items.append((key, token, data, ttl_ms(timeout)))
    return items, unstored
