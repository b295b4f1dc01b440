"""Per-view caching invalidated by model changes and tags, not only by time: ``cache_view``."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest, HttpResponse

from django_distcache import keys, rendering
from django_distcache.invalidation import schedule_invalidation
from django_distcache.registry import ModelRef

View = Callable[..., HttpResponse]
_LIST_DELIMITER = re.compile(r"\s*,\s*")
CACHED_METHODS = ("GET", "HEAD")


def _vary_headers(response: HttpResponse) -> set[str]:
    if not response.has_header("Vary"):
        return set()
    return {h.strip().lower() for h in _LIST_DELIMITER.split(response["Vary"]) if h.strip()}


def _cache_control(response: HttpResponse) -> set[str]:
    if not response.has_header("Cache-Control"):
        return set()
    directives = _LIST_DELIMITER.split(response["Cache-Control"])
    return {d.split("=")[0].strip().lower() for d in directives}


def storable(response: HttpResponse, varied: set[str]) -> bool:
    """Whether ``response`` may be served to every request with the same key: a complete
    200 that sets no cookie, is not private, and varies on nothing the key ignores."""
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not {"private", "no-store", "no-cache"} & _cache_control(response)
        and _vary_headers(response) <= varied
    )


def _freeze(response: HttpResponse) -> dict[str, Any]:
    return {"content": response.content, "headers": list(response.items())}


def _thaw(stored: dict[str, Any] | HttpResponse) -> HttpResponse:
    if isinstance(stored, HttpResponse):
        return stored
    response = HttpResponse(stored["content"])
    for name, value in stored["headers"]:
        response[name] = value
    return response


def cache_view(
    timeout: float | None = None,
    *,
    depends_on: Sequence[ModelRef] = (),
    tags: Sequence[str] = (),
    vary_on_headers: Sequence[str] = (),
    vary_on: Callable[[HttpRequest], Any] | None = None,
    per_user: bool = False,
) -> Callable[[View], View]:
    """Cache a view's GET and HEAD responses until a ``depends_on`` model or a tag changes.

    The key is the absolute URL with its query string, the ``vary_on_headers`` values,
    ``vary_on(request)`` and, with ``per_user``, the user's primary key. Only complete
    200 responses that set no cookie, are not private and vary on nothing else are
    stored; others are returned as rendered. ``view.invalidate_all()`` drops every page.
    """
    header_names = [h.lower() for h in vary_on_headers]
    varied = set(header_names) | ({"cookie"} if per_user else set())

    def decorator(view: View) -> View:
        namespace = f"{view.__module__}.{view.__qualname__}"

        def generations() -> list[str]:
            return rendering.generation_keys(namespace, depends_on, tags)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in CACHED_METHODS:
                return view(request, *args, **kwargs)
            key = rendering.entry_key("view", namespace, _vary(request))

            def render() -> dict[str, Any] | HttpResponse:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()
                return _freeze(response) if storable(response, varied) else response

            stored = rendering.fetch_rendered(
                namespace,
                key,
                generations(),
                render,
                timeout=timeout,
                storable=lambda value: not isinstance(value, HttpResponse),
            )
            return _thaw(stored)

        def _vary(request: HttpRequest) -> Iterable[Any]:
            parts: list[Any] = [request.build_absolute_uri()]
            parts += [request.headers.get(name, "") for name in header_names]
            if vary_on is not None:
                parts.append(vary_on(request))
            if per_user:
                user = getattr(request, "user", None)
                parts.append(user.pk if user is not None and user.is_authenticated else None)
            return parts

        def invalidate_all() -> None:
            """Drop every cached page of this view (when the current transaction commits)."""
            schedule_invalidation(DEFAULT_DB_ALIAS, [keys.function_generation(namespace)])

        wrapper.invalidate_all = invalidate_all  # type: ignore[attr-defined]
        wrapper.namespace = namespace  # type: ignore[attr-defined]
        return wrapper

    return decorator
