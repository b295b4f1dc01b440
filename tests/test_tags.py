"""Tags: invalidating a tag drops every entry stored with it, and only those."""

from __future__ import annotations

import pytest

import django_distcache

calls: list[str] = []


@django_distcache.cached(tags=["menu"])
def menu() -> list[str]:
    calls.append("menu")
    return ["soup"]


def test_invalidating_a_tag_drops_its_get_or_set_entries_and_cached_functions():
    calls.clear()
    assert django_distcache.get_or_set("tagged", lambda: 1, tags=["menu"]) == 1
    assert django_distcache.get_or_set("other", lambda: 1, tags=["drinks"]) == 1
    assert menu() == ["soup"]
    django_distcache.invalidate("menu")
    assert django_distcache.get_or_set("tagged", lambda: 2, tags=["menu"]) == 2
    assert django_distcache.get_or_set("other", lambda: 2, tags=["drinks"]) == 1
    assert menu() == ["soup"]
    assert calls == ["menu", "menu"]


def test_a_tag_with_a_dot_is_invalidated_by_invalidate_tag():
    assert django_distcache.get_or_set("dotted", lambda: 1, tags=["v1.2"]) == 1
    with pytest.raises(LookupError, match="invalidate_tag"):
        django_distcache.invalidate("v1.2")
    django_distcache.invalidate_tag("v1.2")
    assert django_distcache.get_or_set("dotted", lambda: 2, tags=["v1.2"]) == 2
