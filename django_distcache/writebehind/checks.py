"""System checks of write-behind and warming, ids distcache.E010-E019 and W010-W019."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import router
from django.utils.module_loading import import_string

from django_distcache.checks import is_number, positive_number_errors
from django_distcache.conf import get_settings

_POSITIVE = (
    "WRITE_BEHIND_BATCH_SIZE",
    "WRITE_BEHIND_FLUSH_INTERVAL",
    "WRITE_BEHIND_LEASE_TIMEOUT",
    "WRITE_BEHIND_MAX_ATTEMPTS",
    "WRITE_BEHIND_WAIT_TIMEOUT",
    "WARM_BATCH_SIZE",
    "WARM_HISTORY",
    "HOT_KEYS_FLUSH_INTERVAL",
)
_NOT_NEGATIVE = (
    "WRITE_BEHIND_MAX_PENDING",
    "WRITE_BEHIND_RETRY_BACKOFF",
    "WRITE_BEHIND_DEAD_LETTERS_KEPT",
    "HOT_KEYS_SIZE",
    "HOT_KEYS_HALF_LIFE",
)
_OVERFLOW = ("write_through", "raise")


@register(Tags.caches)
def check_write_behind(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Validate the write-behind and warming settings and the buffer's Redis."""
    conf = get_settings()
    errors: list[Any] = []
    errors += _check_values(conf)
    errors += _check_warmers(conf.WARMERS)
    alias = conf.WRITE_BEHIND_CACHE_ALIAS
    caches = getattr(settings, "CACHES", {})
    if alias is None and conf.CACHE_ALIAS not in caches:
        return errors  # distcache.E002 says so
    if alias is not None and alias not in caches:
        errors.append(
            Error(
                f"DISTCACHE['WRITE_BEHIND_CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint="Name a django-redis cache, or None to use CACHE_ALIAS.",
                id="distcache.E011",
            )
        )
        return errors
    from django_distcache.writebehind.flush import write_behind_models

    models_ = write_behind_models()
    if models_ and not errors:
        errors += _check_eviction_policy()
        errors += _check_visibility_timeout(conf)
        errors += _check_databases(models_)
    return errors


def _check_values(conf: Any) -> list[Error]:
    errors = positive_number_errors(conf, _POSITIVE, "distcache.E012")
    for name in (*_NOT_NEGATIVE, "WRITE_BEHIND_WAIT_REPLICAS"):
        value = getattr(conf, name)
        if not (is_number(value) and value >= 0):
            errors.append(
                Error(
                    f"DISTCACHE['{name}'] must be zero or more, got {value!r}.", id="distcache.E012"
                )
            )
    if conf.WRITE_BEHIND_OVERFLOW not in _OVERFLOW:
        errors.append(
            Error(
                f"DISTCACHE['WRITE_BEHIND_OVERFLOW'] is {conf.WRITE_BEHIND_OVERFLOW!r}.",
                hint="Use 'write_through' (save at once) or 'raise' (WriteBehindFull).",
                id="distcache.E012",
            )
        )
    if not isinstance(conf.WRITE_BEHIND_QUEUE, str) or not conf.WRITE_BEHIND_QUEUE:
        errors.append(
            Error("DISTCACHE['WRITE_BEHIND_QUEUE'] must be a queue name.", id="distcache.E012")
        )
    return errors


def _check_warmers(warmers: Any) -> list[Error]:
    if not isinstance(warmers, dict):
        return [
            Error(
                "DISTCACHE['WARMERS'] must be a dict of name to dotted path.", id="distcache.E013"
            )
        ]
    errors = []
    for name, path in warmers.items():
        try:
            import_string(path)
        except (ImportError, TypeError, ValueError):
            errors.append(
                Error(
                    f"DISTCACHE['WARMERS'][{name!r}] = {path!r} cannot be imported.",
                    hint="Give the dotted path of a function returning a queryset or objects.",
                    id="distcache.E013",
                )
            )
    return errors


def _check_eviction_policy() -> list[Error]:
    from django_distcache.redis.buffer import eviction_policy

    policy = eviction_policy()
    if policy and policy.startswith("allkeys-"):
        return [
            Error(
                f"The Redis holding the write-behind buffer evicts any key "
                f"(maxmemory-policy {policy}): buffered writes could be lost.",
                hint="Set maxmemory-policy to noeviction or a volatile-* policy, or put the "
                "buffer on its own Redis with DISTCACHE['WRITE_BEHIND_CACHE_ALIAS'].",
                id="distcache.E010",
            )
        ]
    return []


# RabbitMQ closes the channel of a delivery unacknowledged this long (its default).
RABBITMQ_CONSUMER_TIMEOUT = 1800.0
_AMQP = ("amqp", "amqps", "pyamqp", "librabbitmq")


def project_celery_app() -> Any:
    """The project's Celery app: the current one if it is configured with a broker,
    else the first configured app created (another app may have been made current)."""
    from celery import _state

    current = _state.get_current_app()
    if current.conf.broker_url:
        return current
    return next((a for a in list(_state._get_active_apps()) if a.conf.broker_url), current)


def broker_redelivery_timeout(app: Any, queue: str) -> tuple[str, float | None]:
    """What bounds how long a flush task may stay unacknowledged before the broker
    delivers it again: (its name, seconds), seconds None when unbounded."""
    scheme = str(app.conf.broker_url or "").split("://", 1)[0].split("+")[-1]
    if scheme in _AMQP:
        for declared in app.conf.task_queues or ():
            if getattr(declared, "name", None) == queue:
                arguments = declared.queue_arguments or {}
                if "x-consumer-timeout" in arguments:
                    return "consumer_timeout", arguments["x-consumer-timeout"] / 1000
        return "consumer_timeout", RABBITMQ_CONSUMER_TIMEOUT
    options = app.conf.broker_transport_options or {}
    return "visibility_timeout", options.get("visibility_timeout")


def _check_visibility_timeout(conf: Any) -> list[Warning]:
    try:
        import celery  # noqa: F401
    except ImportError:
        return []
    name, timeout = broker_redelivery_timeout(project_celery_app(), conf.WRITE_BEHIND_QUEUE)
    if timeout is None:
        return []
    needed = max(conf.WRITE_BEHIND_LEASE_TIMEOUT, 2 * conf.WRITE_BEHIND_FLUSH_INTERVAL)
    if timeout >= needed:
        return []
    if name == "consumer_timeout":
        hint = (
            "Raise RabbitMQ's consumer_timeout (rabbitmq.conf, or the x-consumer-timeout "
            f"argument of the {conf.WRITE_BEHIND_QUEUE!r} queue) above "
            "WRITE_BEHIND_LEASE_TIMEOUT and twice WRITE_BEHIND_FLUSH_INTERVAL."
        )
    else:
        hint = (
            "Raise broker_transport_options['visibility_timeout'] above "
            "WRITE_BEHIND_LEASE_TIMEOUT and twice WRITE_BEHIND_FLUSH_INTERVAL."
        )
    return [
        Warning(
            f"The Celery broker's {name} ({timeout:g}s) is shorter than a flush may run "
            f"({needed:g}s): unfinished flushes would be delivered again meanwhile.",
            hint=hint,
            id="distcache.W010",
        )
    ]


def _check_databases(models_: list[Any]) -> list[Warning]:
    from django.db import connections

    warnings = []
    for model in models_:
        using = router.db_for_write(model)
        if connections[using].vendor != "postgresql":
            warnings.append(
                Warning(
                    f"{model._meta.label} uses write-behind on a {connections[using].vendor} "
                    "database: after a flush dies between its commit and its "
                    "acknowledgement, increments may be applied twice.",
                    hint="Exactly-once increments need PostgreSQL (txid_status).",
                    id="distcache.W011",
                )
            )
    return warnings
