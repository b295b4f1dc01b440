"""Cache-aside of rendered output (pages, template fragments) under model and tag generations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django_distcache import arguments, keys
from django_distcache.conf import get_settings
from django_distcache.reads import readthrough
from django_distcache.reads.functions import _dependency_generations, _touched_by_open_transaction
from django_distcache.registry import ModelRef, resolve_model, track

NOT_CACHEABLE = object()


def generation_keys(
    namespace: str, depends_on: Iterable[ModelRef], tags: Iterable[str]
) -> list[str]:
    """The namespace's own generation (invalidated as a whole from the dashboard),
    then those of the models and tags the output depends on (tracked here)."""
    models_ = [resolve_model(ref) for ref in depends_on]
    for model in models_:
        track(model)
    return keys.dedupe(
        [keys.function_generation(namespace), *_dependency_generations(models_, tags)]
    )


def entry_key(kind: str, namespace: str, vary: Iterable[Any]) -> str:
    """The entry key of one variant of a page or fragment."""
    text = arguments.identity(tuple(vary), "vary_on")
    return keys.entry_base(kind, namespace, text if len(text) <= 64 else keys.digest(text))


def fetch_rendered(
    namespace: str,
    key: str,
    generations: list[str],
    render: Callable[[], Any],
    *,
    timeout: float | None,
    storable: Callable[[Any], bool] = lambda value: True,
) -> Any:
    """``render()``'s value through the cache, with the guarantees of ``cached``.

    One render per miss across processes; a value rendered before a committed write is
    never stored; inside a transaction that wrote a dependency the cache is bypassed.
    A value that is not ``storable`` is returned without being stored.
    """
    if _touched_by_open_transaction(generations, key):
        return render()
    serializer = readthrough.serializer()

    def encode(value: Any) -> tuple[bytes, float] | None:
        if not storable(value):
            return None
        return serializer.dumps(value), timeout if timeout is not None else get_settings().TIMEOUT

    return readthrough.fetch(
        namespace, generations, key, render, encode=encode, decode=serializer.loads
    )
