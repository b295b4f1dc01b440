"""App config: checks, registrations from settings, autodiscovery of distcache.py."""

from contextlib import suppress

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DistcacheConfig(AppConfig):
    name = "django_distcache"
    verbose_name = "Distributed cache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_distcache import (  # noqa: F401
            checks,
            model_checks,
            stats,
            stats_tasks,
        )
        from django_distcache.conf import get_settings
        from django_distcache.invalidation import checks as _invalidation_checks  # noqa: F401
        from django_distcache.outbox import checks as _outage_checks  # noqa: F401
        from django_distcache.reads import aio_checks as _async_checks  # noqa: F401
        from django_distcache.reads import checks as _near_checks  # noqa: F401
        from django_distcache.reads import refresh_checks as _refresh_checks  # noqa: F401
        from django_distcache.reads.functions import resolve_dependencies
        from django_distcache.redis import checks as _cluster_checks  # noqa: F401
        from django_distcache.registry import register_from_settings
        from django_distcache.writebehind import checks as _write_behind_checks  # noqa: F401

        # A bad DISTCACHE['MODELS'] is reported by the system checks (distcache.E005).
        with suppress(LookupError, TypeError, ValueError, AttributeError):
            register_from_settings()
        if get_settings().AUTODISCOVER:
            autodiscover_modules("distcache")
        resolve_dependencies()
        stats.connect_signals()
        _connect_recovery()


def _connect_recovery() -> None:
    """Before a breaker closes, the outbox replays what Redis missed (see breaker.py); then
    the server is marked recovered (see redis/recovered.py)."""
    from django_distcache import outbox
    from django_distcache.redis import breaker, recovered

    for hook in (outbox.recover, recovered.mark_recovered):
        if hook not in breaker.recovery_hooks:
            breaker.recovery_hooks.append(hook)
