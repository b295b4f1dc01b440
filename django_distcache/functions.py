"""Cache-aside for arbitrary values: get_or_set() and the @cached decorator."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.apps import apps
from django.db import connections, models
from django.db.models.query import QuerySet

from django_distcache import keys, readthrough
from django_distcache.conf import get_settings
from django_distcache.invalidation import pending_touches, schedule_invalidation
from django_distcache.registry import ModelRef, resolve_model, track

F = TypeVar("F", bound=Callable[..., Any])


def _dependency_generations(
    depends_on: Iterable[type[models.Model]], tags: Iterable[str]
) -> list[str]:
    generations = [keys.model_generation(model) for model in depends_on]
    generations.extend(keys.tag_generation(tag) for tag in tags)
    return generations


def _touched_by_open_transaction(generation_keys: Sequence[str], base: str) -> bool:
    return any(
        pending_touches(conn.alias, generation_keys, base)
        for conn in connections.all(initialized_only=True)
    )


def _encoder(timeout: float | None) -> readthrough.Encoder:
    def encode(value: Any) -> tuple[bytes, float]:
        return readthrough.serializer().dumps(value), (
            timeout if timeout is not None else get_settings().TIMEOUT
        )

    return encode


def _fetch(
    namespace: str,
    base: str,
    generation_keys: Sequence[str],
    loader: Callable[[], Any],
    timeout: float | None,
) -> Any:
    if _touched_by_open_transaction(generation_keys, base):
        return loader()
    return readthrough.fetch(
        namespace,
        generation_keys,
        base,
        loader,
        encode=_encoder(timeout),
        decode=lambda data: readthrough.serializer().loads(data),
    )


def get_or_set(
    key: str,
    loader: Callable[[], Any],
    *,
    timeout: float | None = None,
    depends_on: Iterable[ModelRef] = (),
    tags: Iterable[str] = (),
) -> Any:
    """The value cached under ``key``, or ``loader()`` stored there on a miss.

    The entry is dropped when any model in ``depends_on`` changes or any tag in
    ``tags`` is invalidated. Concurrent misses call ``loader`` once.
    """
    models_ = [resolve_model(m) for m in depends_on]
    for model in models_:
        track(model)
    generation_keys = keys.dedupe(_dependency_generations(models_, tags))
    base = keys.entry_base("key", "get_or_set", key)
    return _fetch("get_or_set", base, generation_keys, loader, timeout)


def _argument_default(value: Any) -> Any:
    if isinstance(value, models.Model):
        return f"{value._meta.label_lower}:{value.pk}"
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


def arguments_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A stable key part for a call's arguments."""
    text = json.dumps(
        [args, kwargs], default=_argument_default, sort_keys=True, separators=(",", ":")
    )
    return text if len(text) <= 64 else keys.digest(text)


_unresolved: list[CachedFunction] = []


def resolve_dependencies() -> None:
    """Track the models of functions decorated before the app registry was ready."""
    while _unresolved:
        _unresolved.pop().dependencies()


class CachedFunction:
    """A function whose results are cached per arguments (see ``cached``)."""

    def __init__(
        self,
        func: Callable[..., Any],
        timeout: float | None,
        depends_on: Sequence[ModelRef],
        tags: Sequence[str],
    ) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.timeout = timeout
        self.namespace = f"{func.__module__}.{func.__qualname__}"
        self._depends_on_refs = tuple(depends_on)
        self._depends_on: tuple[type[models.Model], ...] | None = None
        self.tags = tuple(tags)
        self._derived: tuple[Any, ...] = (None,)
        if apps.ready:
            self.dependencies()
        else:
            _unresolved.append(self)

    def dependencies(self) -> tuple[type[models.Model], ...]:
        """The models this function depends on, resolved and tracked once."""
        if self._depends_on is None:
            resolved = tuple(resolve_model(m) for m in self._depends_on_refs)
            for model in resolved:
                track(model)
            self._depends_on = resolved
        return self._depends_on

    def _keys(self) -> tuple[Any, ...]:
        conf = get_settings()
        if self._derived[0] is not conf:
            generations = keys.dedupe(
                [
                    keys.function_generation(self.namespace),
                    *_dependency_generations(self.dependencies(), self.tags),
                ]
            )
            self._derived = (conf, tuple(generations), keys.entry_base("fn", self.namespace, ""))
        return self._derived

    def generation_keys(self) -> tuple[str, ...]:
        """The generations every entry of this function lives under."""
        return self._keys()[1]

    def base(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The entry key (before generations) of one call."""
        return self._keys()[2] + keys.safe_part(arguments_key(args, kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def load() -> Any:
            value = self.func(*args, **kwargs)
            # A queryset is cached as its list of rows; return the same on a miss.
            return list(value) if isinstance(value, QuerySet) else value

        return _fetch(
            self.namespace, self.base(args, kwargs), self.generation_keys(), load, self.timeout
        )

    def invalidate(self, *args: Any, **kwargs: Any) -> None:
        """Drop the entry of one call (when the current transaction commits)."""
        schedule_invalidation(None, (), [self.base(args, kwargs)])

    def invalidate_all(self) -> None:
        """Drop every entry of this function."""
        schedule_invalidation(None, [keys.function_generation(self.namespace)])

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)


def cached(
    timeout: float | None = None,
    *,
    depends_on: Sequence[ModelRef] = (),
    tags: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], CachedFunction]:
    """Cache a function's results per arguments.

    ``depends_on`` models (classes or ``"app.Model"``) and ``tags`` invalidate every
    entry when they change. ``fn.invalidate(*args, **kwargs)`` drops one entry,
    ``fn.invalidate_all()`` all of them. A returned queryset is cached as a list.
    """

    def decorator(func: Callable[..., Any]) -> CachedFunction:
        return CachedFunction(func, timeout, depends_on, tags)

    return decorator
