"""System checks of early refresh, stale-while-revalidate and sliding: E070, W070."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import Error, Tags, Warning, register

from django_distcache.checks import is_number
from django_distcache.conf import get_settings
from django_distcache.registry import find_config, registered_models

REFRESH_PLACES = ("auto", "celery", "thread")


@register(Tags.caches)
def check_refresh(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Validate EARLY_REFRESH_BETA, STALE_WHILE_REVALIDATE, REFRESH_IN, SLIDING and
    SLIDING_MAX_AGE, and the same options of registered models."""
    conf = get_settings()
    errors: list[Any] = []
    for name in ("EARLY_REFRESH_BETA", "STALE_WHILE_REVALIDATE"):
        value = getattr(conf, name)
        if not (is_number(value) and value >= 0):
            errors.append(_error(f"DISTCACHE['{name}'] must be a number >= 0, got {value!r}."))
    if conf.REFRESH_IN not in REFRESH_PLACES:
        errors.append(
            _error(
                f"DISTCACHE['REFRESH_IN'] must be one of {', '.join(map(repr, REFRESH_PLACES))}, "
                f"got {conf.REFRESH_IN!r}."
            )
        )
    if not isinstance(conf.SLIDING, bool):
        errors.append(_error(f"DISTCACHE['SLIDING'] must be a boolean, got {conf.SLIDING!r}."))
    max_age = conf.SLIDING_MAX_AGE
    if not (is_number(max_age) and max_age > 0):
        errors.append(
            _error(f"DISTCACHE['SLIDING_MAX_AGE'] must be a positive number, got {max_age!r}.")
        )
        return errors
    errors += _check_models(conf, max_age)
    errors += _check_models_setting(conf.MODELS)
    return errors


def _check_models_setting(models_setting: Any) -> list[Any]:
    """The options of DISTCACHE['MODELS'] (a bad one leaves its model unregistered)."""
    from django_distcache.reads.readthrough import check_options

    errors: list[Any] = []
    if not isinstance(models_setting, dict):
        return errors  # distcache.E005
    for label, options in models_setting.items():
        if not isinstance(options, dict):
            continue
        try:
            check_options(options.get("stale_while_revalidate"), options.get("sliding"))
        except ValueError as error:
            errors.append(_error(f"DISTCACHE['MODELS'][{label!r}]: {error}"))
    return errors


def _check_models(conf: Any, max_age: float) -> list[Any]:
    messages: list[Any] = []
    for model in registered_models():
        config = find_config(model)
        if config is None:
            continue
        label = model._meta.label
        swr = config.stale_while_revalidate
        if swr is not None and not (is_number(swr) and swr >= 0):
            messages.append(
                _error(f"{label}: stale_while_revalidate must be a number >= 0, got {swr!r}.")
            )
        sliding = conf.SLIDING if config.sliding is None else config.sliding
        timeout = config.effective_timeout
        if sliding is True and is_number(timeout) and timeout >= max_age:
            messages.append(
                Warning(
                    f"{label} slides its expiry, but its timeout ({timeout} s) is not shorter "
                    f"than DISTCACHE['SLIDING_MAX_AGE'] ({max_age} s): its entries never slide.",
                    hint="Raise SLIDING_MAX_AGE above the timeout, or drop sliding.",
                    id="distcache.W070",
                )
            )
    return messages


def _error(message: str) -> Error:
    return Error(message, id="distcache.E070")
