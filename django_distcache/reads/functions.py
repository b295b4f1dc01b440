"""Cache-aside for arbitrary values: get_or_set() and the @cached decorator."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.apps import apps
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.db import models
from django.db.models.query import QuerySet
from django.utils.module_loading import import_string

from django_distcache import arguments, keys
from django_distcache.conf import get_settings
from django_distcache.invalidation import schedule_invalidation
from django_distcache.reads import front, readthrough, refresh, values
from django_distcache.reads.own_writes import touched_on_any
from django_distcache.registry import ModelRef, resolve_model, track

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("django_distcache")


def _dependency_generations(
    depends_on: Iterable[type[models.Model]], tags: Iterable[str]
) -> list[str]:
    generations = [keys.model_generation(model) for model in depends_on]
    generations.extend(keys.tag_generation(tag) for tag in tags)
    return generations


def _touched_by_open_transaction(generation_keys: Sequence[str], base: str) -> bool:
    return touched_on_any(generation_keys, base)


def _encoder(namespace: str, timeout: float | object | None) -> readthrough.Encoder:
    def encode(value: Any) -> tuple[bytes, float | None] | None:
        seconds = get_settings().TIMEOUT if timeout is DEFAULT_TIMEOUT else timeout
        # Django's convention: a timeout of 0 (or less) caches nothing.
        if isinstance(seconds, (int, float)) and seconds <= 0:
            return None
        try:
            data = readthrough.serializer().dumps(value)
        except (TypeError, ValueError) as error:
            logger.warning("django_distcache served %s uncached: %s", namespace, error)
            return None
        return data, seconds  # type: ignore[return-value]

    return encode


def _seconds(timeout: float | object | None) -> float | None:
    value = get_settings().TIMEOUT if timeout is DEFAULT_TIMEOUT else timeout
    return value if isinstance(value, (int, float)) else None


def _fetch(
    namespace: str,
    base: str,
    generation_keys: Sequence[str],
    loader: Callable[[], Any],
    timeout: float | object | None,
    policy: readthrough.Freshness = readthrough.PLAIN,
    describe: readthrough.Describe | None = None,
    near_cache: bool = False,
) -> Any:
    if _touched_by_open_transaction(generation_keys, base):
        return loader()

    def fetch() -> Any:
        return readthrough.fetch(
            namespace,
            generation_keys,
            base,
            loader,
            encode=_encoder(namespace, timeout),
            decode=lambda data: readthrough.serializer().loads(data),
            policy=policy,
            describe=describe,
        )

    if not near_cache:
        return fetch()
    # The caller asked L1 first (front.hit).
    return front.read_missed(
        namespace,
        generation_keys,
        base,
        fetch,
        decode=lambda data: readthrough.serializer().loads(data),
        freeze=lambda value: values.freeze(value, timeout),
    )


def get_or_set_keys(
    key: str, depends_on: Iterable[ModelRef], tags: Iterable[str]
) -> tuple[list[str], str]:
    """(generation keys, entry key) of ``get_or_set(key, ...)`` and ``aget_or_set``;
    the models it depends on are tracked from then on."""
    models_ = [resolve_model(m) for m in depends_on]
    for model in models_:
        track(model)
    generation_keys = keys.dedupe(_dependency_generations(models_, tags))
    return generation_keys, keys.entry_base("key", "get_or_set", key)


def get_or_set(
    key: str,
    loader: Callable[[], Any],
    *,
    timeout: float | object | None = DEFAULT_TIMEOUT,
    depends_on: Iterable[ModelRef] = (),
    tags: Iterable[str] = (),
    stale_while_revalidate: float | None = None,
    sliding: bool | None = None,
    near_cache: bool = False,
) -> Any:
    """The value cached under ``key``, or ``loader()`` stored there on a miss.

    The entry is dropped when any model in ``depends_on`` changes or any tag in
    ``tags`` is invalidated. Concurrent misses call ``loader`` once. ``timeout``
    follows Django: omitted means DISTCACHE["TIMEOUT"], ``None`` never expires, ``0``
    stores nothing. A value the codec cannot encode is returned uncached (logged).
    ``stale_while_revalidate`` and ``sliding``: as for ``cached`` (the refresh of a stale
    entry runs on a thread of this process: a loader cannot travel to a worker).
    ``near_cache=True`` keeps the value in this process too (see the near cache docs).
    """
    generation_keys, base = get_or_set_keys(key, depends_on, tags)
    if near_cache:
        found = front.hit("get_or_set", generation_keys, base, values.thaw)
        if found is not front.MISSED:
            return found
    policy = readthrough.freshness(_seconds(timeout), stale_while_revalidate, sliding)
    return _fetch(
        "get_or_set", base, generation_keys, loader, timeout, policy, near_cache=near_cache
    )


_unresolved: list[CachedFunction] = []
# Keys of calls each cached function remembers (emptied when full).
_KNOWN_BASES = 1024


def resolve_dependencies() -> None:
    """Track the models of functions decorated before the app registry was ready."""
    while _unresolved:
        _unresolved.pop().dependencies()


class CachedFunction:
    """A function whose results are cached per arguments (see ``cached``)."""

    def __init__(
        self,
        func: Callable[..., Any],
        timeout: float | object | None,
        depends_on: Sequence[ModelRef],
        tags: Sequence[str],
        key: Callable[..., Any] | None = None,
        stale_while_revalidate: float | None = None,
        sliding: bool | None = None,
        near_cache: bool = False,
    ) -> None:
        # @cached() above @classmethod / @staticmethod: bound like them.
        self.binds_class = isinstance(func, classmethod)
        self.binds_instance = not isinstance(func, (classmethod, staticmethod))
        func = getattr(func, "__func__", func) if not self.binds_instance else func
        functools.update_wrapper(self, func)
        self.func = func
        self.timeout = timeout
        self.key = key
        readthrough.check_options(stale_while_revalidate, sliding)
        self.stale_while_revalidate = stale_while_revalidate
        self.sliding = sliding
        self.near_cache = near_cache
        self.signature = inspect.signature(func)
        # The names of the parameters when each may be passed by position (no *args,
        # **kwargs or keyword-only ones): a call passing them all so needs no binding.
        parameters = self.signature.parameters.values()
        self._positional_names = (
            tuple(p.name for p in parameters)
            if all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
            else None
        )
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
            policy = readthrough.freshness(
                _seconds(self.timeout), self.stale_while_revalidate, self.sliding
            )
            base = keys.entry_base("fn", self.namespace, "")
            # the text of a call's arguments -> its key (see base)
            bases: dict[str, str] = {}
            self._derived = (conf, tuple(generations), base, policy, bases)
        return self._derived

    def freshness(self) -> readthrough.Freshness:
        """How this function's entries age."""
        return self._keys()[3]

    def generation_keys(self) -> tuple[str, ...]:
        """The generations every entry of this function lives under."""
        return self._keys()[1]

    def base(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The entry key (before generations) of one call, however its arguments are spelled.

        Raises ``TypeError`` naming an argument with no stable identity (unless ``key=``).
        """
        names = self._positional_names
        if self.key is not None:
            text = arguments.custom_identity(self.key, args, kwargs)
        elif not kwargs and names is not None and len(args) == len(names):
            # NOTE: what call_identity answers, without Signature.bind (a third of a hit).
            text = ",".join(
                f"{name}={arguments.identity(value, name)}"
                for name, value in zip(names, args, strict=True)
            )
        else:
            text = arguments.call_identity(self.signature, args, kwargs)
        derived = self._keys()
        if len(text) > 64:
            return derived[2] + keys.safe_part(keys.digest(text))
        known = derived[4]
        base = known.get(text)
        if base is None:
            # NOTE: remembered (short texts only), as safe_part's regex costs a tenth of
            # a near-cache hit.
            if len(known) >= _KNOWN_BASES:
                known.clear()
            base = known[text] = derived[2] + keys.safe_part(text)
        return base

    def _loader(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
        def load() -> Any:
            value = self.func(*args, **kwargs)
            # A queryset is cached as its list of rows; return the same on a miss.
            return list(value) if isinstance(value, QuerySet) else value

        return load

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _conf, generation_keys, _, policy, _bases = self._keys()
        base = self.base(args, kwargs)
        if self.near_cache:
            # NOTE: before anything a miss needs is built: that costs as much as a hit.
            found = front.hit(self.namespace, generation_keys, base, values.thaw)
            if found is not front.MISSED:
                return found

        def describe(_keys: list[str]) -> dict[str, Any] | None:
            # A worker finds this function by its dotted name, with the arguments encoded.
            if not self._importable():
                return None
            call = refresh.encode_call(args, kwargs)
            return (
                None
                if call is None
                else {"kind": "function", "function": self.namespace, "call": call}
            )

        return _fetch(
            self.namespace,
            base,
            generation_keys,
            self._loader(args, kwargs),
            self.timeout,
            policy,
            describe,
            near_cache=self.near_cache,
        )

    def _importable(self) -> bool:
        try:
            return import_string(self.namespace) is self
        except ImportError:
            return False

    def refresh(
        self,
        keys_: list[str],
        token: str,
        generations: bytes,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        policy: readthrough.Freshness,
    ) -> None:
        """Reload one call's entry under a lease a reader took (a worker's refresh)."""
        load = self._loader(args, kwargs)
        readthrough.load_and_store(
            self.namespace,
            self.generation_keys(),
            keys_,
            token,
            generations,
            lambda _: {keys_[0]: load()},
            _encoder(self.namespace, self.timeout),
            policy,
        )

    def invalidate(self, *args: Any, **kwargs: Any) -> None:
        """Drop the entry of one call (when the current transaction commits)."""
        schedule_invalidation(None, (), [self.base(args, kwargs)])

    def invalidate_all(self) -> None:
        """Drop every entry of this function."""
        schedule_invalidation(None, [keys.function_generation(self.namespace)])

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if self.binds_class:
            return BoundCachedFunction(self, owner if owner is not None else type(instance))
        if instance is None or not self.binds_instance:
            return self
        return BoundCachedFunction(self, instance)


class BoundCachedFunction:
    """A cached method bound to its instance (or class): calls and invalidates with it."""

    def __init__(self, function: CachedFunction, first: Any) -> None:
        self.function = function
        self.first = first
        functools.update_wrapper(self, function.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(self.first, *args, **kwargs)

    def invalidate(self, *args: Any, **kwargs: Any) -> None:
        """Drop the entry of one call of this bound method."""
        self.function.invalidate(self.first, *args, **kwargs)

    def invalidate_all(self) -> None:
        """Drop every entry of the method."""
        self.function.invalidate_all()


def cached(
    timeout: float | object | None = DEFAULT_TIMEOUT,
    *,
    depends_on: Sequence[ModelRef] = (),
    tags: Sequence[str] = (),
    key: Callable[..., Any] | None = None,
    stale_while_revalidate: float | None = None,
    sliding: bool | None = None,
    near_cache: bool = False,
) -> Callable[[Callable[..., Any]], CachedFunction]:
    """Cache a function's results per arguments.

    Entries are keyed by the bound signature: ``f(1)``, ``f(x=1)`` and a default are
    one entry. ``timeout`` follows Django: omitted means DISTCACHE["TIMEOUT"], ``None``
    never expires. ``depends_on`` models (classes or ``"app.Model"``) and ``tags``
    invalidate every entry when they change. ``fn.invalidate(*args, **kwargs)`` drops
    one entry, ``fn.invalidate_all()`` all of them. An argument with no stable identity
    (an address in its repr, an unsaved model instance, a lambda) raises ``TypeError``
    unless ``key`` (called with the arguments) gives the key. Put ``@cached()`` above
    ``@classmethod`` or ``@staticmethod``. A returned queryset is cached as a list.
    On an ``async def`` function the call is awaited (``reads.aio``: a hit never leaves
    the event loop).

    ``stale_while_revalidate`` (seconds; None: DISTCACHE["STALE_WHILE_REVALIDATE"])
    serves an expired entry that long while one refresh runs on a Celery worker or a
    thread (see ``django_distcache.reads.refresh``); never after an invalidation.
    ``sliding=True`` pushes an entry's expiry back to ``timeout`` on every read, up to
    DISTCACHE["SLIDING_MAX_AGE"] after its load (None: DISTCACHE["SLIDING"]).
    ``near_cache=True`` keeps results in each process too (see the near cache docs).
    """

    def decorator(func: Callable[..., Any]) -> CachedFunction:
        if inspect.iscoroutinefunction(getattr(func, "__func__", func)):
            from django_distcache.reads.aio import AsyncCachedFunction

            # NOTE: async reads serve no stale entries and slide no expiry (afetch).
            return AsyncCachedFunction(func, timeout, depends_on, tags, key, near_cache=near_cache)
        return CachedFunction(
            func, timeout, depends_on, tags, key, stale_while_revalidate, sliding, near_cache
        )

    return decorator
