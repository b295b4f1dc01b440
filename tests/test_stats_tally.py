"""Lock-free per-thread counts: every increment of every thread is taken once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from django_distcache import stats
from django_distcache.stats import recorder, tally

FIELD = (recorder.COUNT, "tally-test", "near_hits")


@pytest.fixture(autouse=True)
def no_flush() -> Iterator[None]:
    """The recorder's background flush would take the counts: it waits meanwhile."""
    with recorder._flush_lock:
        recorder._take()
        yield
        recorder._take()


def test_counts_of_many_threads_are_taken_once_even_after_they_end():
    barrier = threading.Barrier(8)

    def count() -> None:
        barrier.wait()  # all at once
        for _ in range(5_000):
            tally.add(FIELD)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads[:4]:
        thread.join()
    taken = tally.take().get(FIELD, 0)
    for thread in threads[4:]:
        thread.join()
    taken += tally.take().get(FIELD, 0)
    assert taken == 8 * 5_000
    assert tally.take() == {}


def test_peek_leaves_the_counts_to_be_taken():
    for _ in range(3):
        tally.add(FIELD)
    assert tally.peek() == {FIELD: 3}
    assert tally.peek() == {FIELD: 3}
    assert tally.take() == {FIELD: 3}
    assert tally.peek() == {}


def test_the_recorder_counts_them_with_the_rest():
    stats.record_near_hit("tally-test", 0.0)
    stats.record_hit("tally-test", 0.0)
    assert stats.local_counts() == {("tally-test", "near_hits"): 1, ("tally-test", "hits"): 1}
    assert recorder._take() == {FIELD: 1, (recorder.COUNT, "tally-test", "hits"): 1}
    assert stats.local_counts() == {}


def test_a_forked_child_does_not_count_its_parents_again():
    tally.add(FIELD)
    pid = os.fork()
    if pid == 0:
        tally.add(FIELD)
        os._exit(0 if tally.take() == {FIELD: 1} else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tally.take() == {FIELD: 1}
