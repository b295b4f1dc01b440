"""The DISTCACHE settings object: defaults, the user's dict, a cached accessor."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # The django-redis cache alias whose Redis holds the entries and generations.
    "CACHE_ALIAS": "default",
    # Readable prefix of every key the app writes; an ACL user may be limited to it.
    "KEY_PREFIX": "distcache",
    # Bump to invalidate every entry at once (for example after a deploy that
    # changes what cached functions return).
    "SCHEMA_VERSION": 1,
    # Default time to live of an entry, in seconds.
    "TIMEOUT": 300,
    # Fraction of the TTL taken off at random so entries written together do not
    # expire together: 0.1 means a TTL between 90% and 100% of the timeout.
    "TIMEOUT_JITTER": 0.1,
    # How long a loader holds the lease on a missing key (seconds). Waiters read the
    # filled value; if the holder dies, the lease expires and a waiter loads.
    "LEASE_TIMEOUT": 5.0,
    # The longest a waiter waits for another process's load before loading itself.
    "MAX_WAIT": 5.0,
    # After a failed Redis read, reads go straight to the database for this many
    # seconds before Redis is tried again (a circuit breaker).
    "RETRY_REDIS_AFTER": 5.0,
    # Whether "does not exist" answers of get_object are cached, and for how long.
    "CACHE_MISSING": True,
    "MISSING_TIMEOUT": 60,
    # Models registered from settings: {"app_label.Model": {"timeout": 600,
    # "depends_on": ["app_label.Other"]}}.
    "MODELS": {},
    # Dotted path of the codec of cached values. The default never unpickles.
    "SERIALIZER": "django_distcache.serializers.JSONSerializer",
    # Values whose encoding is at least this many bytes are zlib-compressed.
    "COMPRESS_MIN_BYTES": 4096,
    # Longest key the app writes; longer parts are hashed.
    "MAX_KEY_LENGTH": 200,
    # Import a `distcache` module from every installed app at start-up.
    "AUTODISCOVER": True,
    # Statistics: counted in each process and flushed to Redis in batches.
    "STATS_ENABLED": True,
    # Flush a process's statistics at least this often (seconds) ...
    "STATS_FLUSH_INTERVAL": 2.0,
    # ... and as soon as this many events are waiting.
    "STATS_FLUSH_EVERY": 1000,
    # How long stored snapshots (the dashboard's charts) are kept, in seconds.
    "STATS_HISTORY_RETENTION": 86400,
    # Health warnings: hit rate below this fraction (None: never) ...
    "HEALTH_MIN_HIT_RATE": 0.8,
    # ... once a namespace has had at least this many reads;
    "HEALTH_MIN_READS": 100,
    # Redis memory used above this fraction of maxmemory (None: never);
    "HEALTH_MAX_MEMORY": 0.9,
    # Redis evicted keys since the last stored snapshot;
    "HEALTH_WARN_ON_EVICTIONS": True,
    # the oldest pending write-behind older than this many seconds (None: never).
    "HEALTH_MAX_BACKLOG_AGE": 60,
}


class DistcacheSettings:
    """Attribute access over DEFAULTS updated with the project's DISTCACHE dict."""

    def __init__(self, user_settings: dict[str, Any] | None = None) -> None:
        self.user_settings = dict(user_settings or {})
        self._values = {**DEFAULTS, **self.user_settings}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(
                f"DISTCACHE has no setting {name!r}; valid settings are "
                f"{', '.join(sorted(DEFAULTS))}."
            ) from None

    @property
    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(DEFAULTS))


@cache
def get_settings() -> DistcacheSettings:
    """Return the settings object; cached, and reset when DISTCACHE changes."""
    user = getattr(settings, "DISTCACHE", None) or {}
    if not isinstance(user, dict):
        user = {}
    return DistcacheSettings(user)


@receiver(setting_changed, dispatch_uid="django_distcache.conf.reset")
def _reset_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DISTCACHE", "CACHES"):
        get_settings.cache_clear()
        from django_distcache import breaker, client

        client.reset()
        breaker.reset()
