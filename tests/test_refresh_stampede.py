"""A hot key at its expiry: one load, and no reader waits for it."""

from __future__ import annotations

import threading

import pytest

import django_distcache
from tests.entries import data, expire, fn_entry, redis_now_ms, rewrite, wait_until
from tests.threads import in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

READERS = 8
READS = 20


@pytest.mark.parametrize("mode", ["early refresh", "stale-while-revalidate"])
def test_a_hot_key_at_expiry_is_loaded_once_while_readers_read_on(settings, mode):
    settings.DISTCACHE = {**settings.DISTCACHE, "REFRESH_IN": "thread"}
    options = {"timeout": 60}
    if mode == "stale-while-revalidate":
        options["stale_while_revalidate"] = 30
    django_distcache.get_or_set("hot", lambda: "v1", **options)
    if mode == "stale-while-revalidate":
        expire(fn_entry("hot"))  # expired: every reader is within the grace period
    else:
        # Ten seconds left of a load that took five: each read refreshes early with a
        # chance of exp(-2), so one of the first reads does; the rest read on.
        rewrite(fn_entry("hot"), expires=redis_now_ms() + 10_000, delta=5_000)
    condition = threading.Condition()
    finished: list[int] = []
    loads: list[int] = []
    readers_went_on: list[bool] = []
    # The refresh's own reader (early refresh reloads inline) is not waited for.
    others = READERS if mode == "stale-while-revalidate" else READERS - 1

    def load() -> str:
        loads.append(threading.get_ident())
        with condition:
            # Finishes only once the other readers finished all their reads: none waited.
            readers_went_on.append(condition.wait_for(lambda: len(finished) >= others, 60))
        return "v2"

    seen: list[list[str]] = [[] for _ in range(READERS)]

    def reader(index: int) -> None:
        for _ in range(READS):
            seen[index].append(django_distcache.get_or_set("hot", load, **options))
        with condition:
            finished.append(index)
            condition.notify_all()

    threads = [in_thread(reader, index) for index in range(READERS)]
    for thread in threads:
        thread.join(90)
    assert len(finished) == READERS
    wait_until(lambda: data(fn_entry("hot")) == b'J"v2"', what="the refresh")
    assert len(loads) == 1
    assert readers_went_on == [True]
    stale_readers = [values for values in seen if "v2" not in values]
    assert len(stale_readers) >= others  # they got the current value at once, every time
    assert all(values == ["v1"] * READS for values in stale_readers)
