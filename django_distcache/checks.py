"""System checks of the DISTCACHE settings, ids distcache.E001 and up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from django_distcache.conf import DEFAULTS, get_settings
from django_distcache.registry import resolve_model

REDIS_BACKENDS = ("django_redis.cache.RedisCache",)
MODEL_OPTIONS = ("timeout", "depends_on", "write_behind", "stale_while_revalidate", "sliding")


def is_number(value: Any) -> bool:
    """A setting's number: an int or float, not a bool (shared by the feature checks)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_positive_number(value: Any) -> bool:
    return is_number(value) and value > 0


def positive_number_errors(
    conf: Any, names: Iterable[str], check_id: str, what: str = "a positive number"
) -> list[Error]:
    """An error (``check_id``) for each setting in ``names`` that is not a positive number."""
    return [
        Error(f"DISTCACHE['{name}'] must be {what}, got {getattr(conf, name)!r}.", id=check_id)
        for name in names
        if not _is_positive_number(getattr(conf, name))
    ]


@register(Tags.caches)
def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Error]:
    """Validate DISTCACHE: keys, cache alias, timeouts, models, serializer, prefix."""
    user = getattr(settings, "DISTCACHE", {})
    if not isinstance(user, dict):
        return [
            Error(
                "DISTCACHE must be a dict.",
                hint=f"Got {type(user).__name__}.",
                id="distcache.E001",
            )
        ]
    conf = get_settings()
    errors = []
    if conf.unknown_keys:
        errors.append(
            Error(
                f"Unknown DISTCACHE setting(s): {', '.join(conf.unknown_keys)}.",
                hint=f"Valid settings: {', '.join(sorted(DEFAULTS))}.",
                id="distcache.E001",
            )
        )
    errors.extend(_check_cache_alias(conf.CACHE_ALIAS))
    errors.extend(_check_timeouts(conf))
    errors.extend(_check_models(conf.MODELS))
    errors.extend(_check_serializer(conf.SERIALIZER))
    errors.extend(_check_keys(conf))
    return errors


def _check_cache_alias(alias: Any) -> list[Error]:
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            Error(
                f"DISTCACHE['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint=f"Use one of: {', '.join(map(repr, caches)) or 'none defined'}.",
                id="distcache.E002",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    try:
        backend_cls = import_string(backend)
        allowed = tuple(import_string(path) for path in REDIS_BACKENDS)
        is_redis = isinstance(backend_cls, type) and issubclass(backend_cls, allowed)
    except ImportError:
        is_redis = False
    if not is_redis:
        return [
            Error(
                f"The cache {alias!r} uses {backend!r}, not a django-redis backend.",
                hint="Set its BACKEND to 'django_redis.cache.RedisCache'.",
                id="distcache.E003",
            )
        ]
    return []


def _check_timeouts(conf: Any) -> list[Error]:
    errors = positive_number_errors(
        conf,
        ("TIMEOUT", "MISSING_TIMEOUT", "LEASE_TIMEOUT", "MAX_WAIT", "RETRY_REDIS_AFTER"),
        "distcache.E004",
        "a positive number of seconds",
    )
    jitter = conf.TIMEOUT_JITTER
    if not (is_number(jitter) and 0 <= jitter < 1):
        errors.append(
            Error(
                f"DISTCACHE['TIMEOUT_JITTER'] must be a fraction from 0 up to 1, got {jitter!r}.",
                id="distcache.E004",
            )
        )
    return errors


def _check_models(models_setting: Any) -> list[Error]:
    if not isinstance(models_setting, dict):
        return [
            Error(
                "DISTCACHE['MODELS'] must be a dict of 'app_label.Model' to options.",
                id="distcache.E005",
            )
        ]
    errors = []
    for label, options in models_setting.items():
        refs = [label]
        if options is not None and not isinstance(options, dict):
            errors.append(
                Error(f"DISTCACHE['MODELS'][{label!r}] must be a dict.", id="distcache.E005")
            )
            continue
        options = options or {}
        unknown = set(options) - set(MODEL_OPTIONS)
        if unknown:
            errors.append(
                Error(
                    f"DISTCACHE['MODELS'][{label!r}] has unknown options: "
                    f"{', '.join(sorted(unknown))}.",
                    hint=f"Valid options: {', '.join(MODEL_OPTIONS)}.",
                    id="distcache.E005",
                )
            )
        timeout = options.get("timeout")
        if timeout is not None and not _is_positive_number(timeout):
            errors.append(
                Error(
                    f"DISTCACHE['MODELS'][{label!r}]['timeout'] must be a positive number.",
                    id="distcache.E004",
                )
            )
        refs.extend(options.get("depends_on", ()))
        for ref in refs:
            try:
                resolve_model(ref)
            except (LookupError, TypeError) as exc:
                errors.append(
                    Error(
                        f"DISTCACHE['MODELS'] names an unknown model: {exc}",
                        id="distcache.E005",
                    )
                )
    return errors


def _check_serializer(path: Any) -> list[Error]:
    try:
        import_string(path)
    except (ImportError, TypeError, ValueError):
        return [
            Error(
                f"DISTCACHE['SERIALIZER'] {path!r} cannot be imported.",
                hint="Give the dotted path of a class with dumps() and loads().",
                id="distcache.E006",
            )
        ]
    return []


def _check_keys(conf: Any) -> list[Error]:
    errors = []
    prefix = conf.KEY_PREFIX
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        errors.append(
            Error(
                f"DISTCACHE['KEY_PREFIX'] must be a non-empty string without spaces, "
                f"got {prefix!r}.",
                id="distcache.E007",
            )
        )
    version = conf.SCHEMA_VERSION
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        errors.append(
            Error(
                f"DISTCACHE['SCHEMA_VERSION'] must be a whole number, got {version!r}.",
                id="distcache.E007",
            )
        )
    max_len = conf.MAX_KEY_LENGTH
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 100:
        errors.append(
            Error(
                f"DISTCACHE['MAX_KEY_LENGTH'] must be a whole number of at least 100, "
                f"got {max_len!r}.",
                id="distcache.E007",
            )
        )
    return errors
