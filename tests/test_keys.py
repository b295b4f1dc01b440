"""Keys are readable, bounded, whitespace-free, and never shared by two inputs."""

import pytest

from django_distcache import keys


def test_plain_parts_stay_readable():
    assert keys.safe_part("product:42") == "product:42"


@pytest.mark.parametrize("text", ["has space", "tab\there", "new\nline", "nul\x00", "é"])
def test_unsafe_characters_are_replaced_and_hashed(text):
    part = keys.safe_part(text)
    assert all(33 <= ord(c) < 127 for c in part)
    assert "#" in part


def test_long_parts_are_bounded_and_distinct():
    first = keys.safe_part("x" * 1000 + "a")
    second = keys.safe_part("x" * 1000 + "b")
    assert first != second
    assert len(first) <= 200
    assert first.startswith("xxxx")


def test_changed_inputs_never_collide_with_clean_ones():
    assert keys.safe_part("a b") != keys.safe_part("a_b")


def test_entry_keys_are_bounded_by_the_setting(settings):
    settings.DISTCACHE = {"KEY_PREFIX": "p", "MAX_KEY_LENGTH": 120}
    base = keys.entry_base("key", "get_or_set", "y" * 5000)
    assert base.startswith("p:v1:key:get_or_set:yyy")
    assert len(base) <= 120


def test_generation_keys_are_readable():
    assert keys.tag_generation("front page").startswith("dctest:gen:tag:front_page#")
    assert keys.tag_generation("news") == "dctest:gen:tag:news"
