"""The warmer registry: @warmer("name") functions and DISTCACHE['WARMERS'] dotted paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from django_distcache.conf import get_settings

Warmer = Callable[[], Any]

_warmers: dict[str, Warmer] = {}


class UnknownWarmer(LookupError):
    """Raised for a warmer name that is neither registered nor in DISTCACHE['WARMERS']."""


def warmer(name: str) -> Callable[[Warmer], Warmer]:
    """Register a function returning a queryset, or an iterable of model instances,
    ``(Model, pk)`` pairs or ``"app_label.model:pk"`` keys, whose objects are cached."""

    def decorator(func: Warmer) -> Warmer:
        _warmers[name] = func
        return func

    return decorator


def warmer_names() -> list[str]:
    """Every known warmer name, sorted."""
    return sorted({*_warmers, *get_settings().WARMERS})


def get_warmer(name: str) -> Warmer:
    if name in _warmers:
        return _warmers[name]
    path = get_settings().WARMERS.get(name)
    if path is None:
        raise UnknownWarmer(
            f"No cache warmer named {name!r}; known warmers: {', '.join(warmer_names()) or 'none'}."
        )
    return import_string(path)


@warmer("hot_objects")
def hot_objects() -> list[tuple[str, str]]:
    """The most-read objects of every registered model (see hotkeys)."""
    from django_distcache import hotkeys
    from django_distcache.registry import registered_models

    hotkeys.flush()
    labels = {m._meta.label_lower for m in registered_models()}
    keys_: list[tuple[str, str]] = []
    for namespace in hotkeys.hot_namespaces():
        if namespace in labels:
            keys_.extend((namespace, pk) for pk, _count in hotkeys.hottest(namespace))
    return keys_
