"""What one read round means (reads/answers.py), shared by the sync and async paths."""

from __future__ import annotations

from django_distcache.reads.answers import (
    HELD_ELSEWHERE,
    LEASE_TAKEN,
    encode_loaded,
    sort_answers,
)

NEVER = b"0" * 13


def entry(data: bytes, expires: bytes = NEVER) -> bytes:
    return b"1.2|" + expires + b":5:0|" + data


def test_each_answer_of_read_lua_is_sorted_by_what_happens_next():
    found: dict[str, object] = {}
    keys = ["hit", "stale", "mine", "theirs", "corrupt", "foreign"]
    answers = [
        entry(b"a"),
        [entry(b"b")],
        LEASE_TAKEN,
        HELD_ELSEWHERE,
        entry(b"not json"),
        b"1.2|old format",
    ]
    round_ = sort_answers(
        "ns", keys, answers, lambda data: data.decode().upper(), found, elapsed=0, waited=False
    )
    assert round_.owned == ["mine"]
    assert round_.held == ["theirs"]
    assert round_.renew == ["stale"]  # served now, its lease taken here
    assert round_.unreadable == ["foreign"]
    assert round_.early == []  # no early refresh without beta
    assert found == {"hit": "A", "stale": "B", "corrupt": "NOT JSON"}


def test_a_decoder_that_fails_makes_the_entry_unreadable():
    def decode(data: bytes) -> object:
        raise ValueError("corrupt")

    found: dict[str, object] = {}
    round_ = sort_answers("ns", ["k"], [entry(b"x")], decode, found, elapsed=0, waited=True)
    assert round_.unreadable == ["k"]
    assert found == {}


def test_a_hit_about_to_expire_may_draw_an_early_refresh():
    soon = b"1000000000000"  # 2001, by this machine's clock: long expired, always drawn
    found: dict[str, object] = {}
    round_ = sort_answers(
        "ns", ["k"], [entry(b"x", soon)], bytes, found, elapsed=0, waited=False, beta=1.0
    )
    assert round_.early == ["k"]
    never = sort_answers(
        "ns", ["k"], [entry(b"x")], bytes, found, elapsed=0, waited=False, beta=1.0
    )
    assert never.early == []


def test_values_the_encoder_refuses_are_not_stored_and_their_leases_given_up():
    def encode(value: object) -> tuple[bytes, float | None] | None:
        return None if value is None else (str(value).encode(), None)

    items, unstored = encode_loaded(["a", "b"], {"a": 1}, "token", encode)
    assert items == [("a", "token", b"1", 0)]
    assert unstored == [("b", "token")]
