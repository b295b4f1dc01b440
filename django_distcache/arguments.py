"""Stable cache-key text of a call's arguments, from the function's bound signature."""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import re
import types
import uuid
from collections.abc import Callable
from typing import Any

from django.db import models

# repr() of an object without its own __repr__: its address changes every run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PLAIN = (str, int, float, bool, type(None), decimal.Decimal, uuid.UUID, enum.Enum)
_DATES = (datetime.date, datetime.time, datetime.timedelta)


class UnstableArgument(TypeError):
    """An argument with no stable identity to key a cached call by."""


def _fail(path: str, value: Any, why: str) -> UnstableArgument:
    return UnstableArgument(
        f"cannot key a cached call by argument {path!r} ({why}: {type(value).__name__}); "
        "pass a value with a stable repr, or give cached(key=...) a function of the "
        "arguments that returns the key."
    )


def identity(value: Any, path: str) -> str:
    """Text that names ``value`` the same way in every process, or UnstableArgument."""
    if isinstance(value, (*_PLAIN, *_DATES)):
        return repr(value)
    if isinstance(value, models.Model):
        if value.pk is None:
            raise _fail(path, value, "an unsaved model instance")
        return f"<{value._meta.label_lower}:{value.pk!r}>"
    if isinstance(value, (list, tuple)):
        items = ",".join(identity(v, f"{path}[{i}]") for i, v in enumerate(value))
        return f"[{items}]" if isinstance(value, list) else f"({items},)"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(identity(v, f"{path} item") for v in value)) + "}"
    if isinstance(value, dict):
        pairs = sorted(
            f"{identity(k, f'{path} key')}:{identity(v, f'{path}[{k!r}]')}"
            for k, v in value.items()
        )
        return "{" + ",".join(pairs) + ":}"
    if isinstance(value, type):
        return f"<class {value.__module__}.{value.__qualname__}>"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        if value.__name__ == "<lambda>" or "<locals>" in value.__qualname__:
            raise _fail(path, value, "a lambda or local function")
        return f"<function {value.__module__}.{value.__qualname__}>"
    text = repr(value)
    if _ADDRESS.search(text):
        raise _fail(path, value, "its repr shows its address")
    return f"<{type(value).__module__}.{type(value).__qualname__} {text}>"


def call_identity(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict) -> str:
    """One text for every spelling (positional, keyword, default) of the same call."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return ",".join(f"{name}={identity(v, name)}" for name, v in bound.arguments.items())


def custom_identity(key: Callable[..., Any], args: tuple[Any, ...], kwargs: dict) -> str:
    """The text of a user's ``key=`` function."""
    return identity(key(*args, **kwargs), "key()")
