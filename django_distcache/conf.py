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
    # Early refresh (XFetch): a hit refreshes its entry before it expires, with a chance
    # that grows as expiry nears and with how long the entry took to load, so one
    # reader reloads a hot entry while the others still read it. Higher: earlier.
    # 0: off (entries are reloaded on the first miss after they expire).
    "EARLY_REFRESH_BETA": 1.0,
    # Stale-while-revalidate: seconds after expiry during which an entry is still
    # served while one refresh runs in the background (0: off). Per model or function:
    # stale_while_revalidate=seconds. Never after an invalidation.
    "STALE_WHILE_REVALIDATE": 0,
    # Where background refreshes run: "auto" (a Celery task when a Celery app with a
    # broker is configured, else a thread of the reading process), "celery" or "thread".
    "REFRESH_IN": "auto",
    # Sliding expiration: every read pushes the expiry back to the timeout (sliding=True
    # per model or function), but an entry is never kept longer than SLIDING_MAX_AGE
    # seconds after it was loaded.
    "SLIDING": False,
    "SLIDING_MAX_AGE": 3600,
    # Connect and read timeout (seconds) of the app's Redis connections; a shorter one in
    # the cache's OPTIONS wins. None: the cache's OPTIONS as they are.
    "REDIS_TIMEOUT": 1.0,
    # While Redis is unreachable (the circuit breaker is open) no request waits on it;
    # one background probe per process tries it again every this many seconds.
    "RETRY_REDIS_AFTER": 5.0,
    # The async API's connections to Redis per event loop (one ASGI process): at most this
    # many requests talk to Redis at once, the others wait for a free connection.
    "ASYNC_MAX_CONNECTIONS": 10,
    # Invalidations waiting in the outbox (not applied to Redis) replayed row by row up
    # to this many; beyond it, the replay empties the cache at once (an epoch bump).
    "OUTBOX_REPLAY_LIMIT": 1000,
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
    # Invalidate the tables that raw cursor.execute() INSERT/UPDATE/DELETE/TRUNCATE
    # statements name (whole models: the rows are unknown). Off: call invalidate().
    "RAW_SQL_INVALIDATION": False,
    # Read replicas: {"replica_alias": "primary_alias"}. Their reads share the primary's
    # keys, and a miss within REPLICA_LAG seconds of an invalidation of what it reads
    # is loaded from the primary (0: always from the replica).
    "REPLICAS": {},
    "REPLICA_LAG": 0,
    # Import a `distcache` module from every installed app at start-up.
    "AUTODISCOVER": True,
    # Write-behind: the django-redis alias whose Redis holds the buffer of pending
    # writes (None: CACHE_ALIAS). It must never evict keys (distcache.E010).
    "WRITE_BEHIND_CACHE_ALIAS": None,
    # The Celery queue of the flush and warm tasks.
    "WRITE_BEHIND_QUEUE": "distcache",
    # Rows claimed and written per flush transaction; a model with this many pending
    # rows also triggers a flush at once.
    "WRITE_BEHIND_BATCH_SIZE": 1000,
    # Seconds between scheduled flushes (the beat schedule entry uses it).
    "WRITE_BEHIND_FLUSH_INTERVAL": 5.0,
    # Seconds a flush holds its claim on a batch before another flush may recover it.
    "WRITE_BEHIND_LEASE_TIMEOUT": 60.0,
    # Pending rows per model above which write_behind() overflows (0: no cap).
    "WRITE_BEHIND_MAX_PENDING": 100_000,
    # What an overflowing write_behind() does: "write_through" (save now) or "raise".
    "WRITE_BEHIND_OVERFLOW": "write_through",
    # Database errors a pending row may meet before it goes to the dead-letter list.
    "WRITE_BEHIND_MAX_ATTEMPTS": 5,
    # Seconds before the first retry of a failed row; doubled on each attempt.
    "WRITE_BEHIND_RETRY_BACKOFF": 1.0,
    # Dead letters kept per model, the newest (0: all of them).
    "WRITE_BEHIND_DEAD_LETTERS_KEPT": 10_000,
    # Strict mode: replicas that must acknowledge each buffered write (Redis WAIT)
    # before write_behind() returns, and how long to wait for them (seconds).
    "WRITE_BEHIND_WAIT_REPLICAS": 0,
    "WRITE_BEHIND_WAIT_TIMEOUT": 1.0,
    # Cache warmers from settings: {"name": "dotted.path.to.function"}.
    "WARMERS": {},
    # Rows read and entries written per round trip when warming.
    "WARM_BATCH_SIZE": 1000,
    # Warm runs kept in Redis for the dashboard.
    "WARM_HISTORY": 50,
    # Most-read objects remembered per model for hot-key warming (0: off), and how
    # often (seconds) each process adds its read counts to Redis.
    "HOT_KEYS_SIZE": 200,
    "HOT_KEYS_FLUSH_INTERVAL": 10.0,
    # Seconds in which a hot-key count halves, so newly hot keys overtake old ones
    # (0: counts never decay).
    "HOT_KEYS_HALF_LIFE": 3600.0,
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
    # Near cache (register(..., near_cache=True), @cached(near_cache=True)): the most
    # entries each process keeps (the least recently used go first) ...
    "NEAR_CACHE_MAX_ENTRIES": 10_000,
    # ... the most bytes (32 MiB; values, keys and bookkeeping, measured per entry) ...
    "NEAR_CACHE_MAX_BYTES": 33_554_432,
    # ... and the longest it keeps an entry (seconds) even if every invalidation message
    # were lost.
    "NEAR_CACHE_MAX_AGE": 60.0,
}


class DistcacheSettings:
    """Attribute access over DEFAULTS updated with the project's DISTCACHE dict."""

    def __init__(self, user_settings: dict[str, Any] | None = None) -> None:
        self.user_settings = dict(user_settings or {})
        self._values = {**DEFAULTS, **self.user_settings}
        # Plain attributes: a setting read on the hot path is a dict lookup.
        self.__dict__.update(self._values)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not settings.
        raise AttributeError(
            f"DISTCACHE has no setting {name!r}; valid settings are {', '.join(sorted(DEFAULTS))}."
        )

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
        from django_distcache.outbox import log
        from django_distcache.reads import near
        from django_distcache.redis import breaker, client

        near.reset()
        client.reset()
        breaker.reset()
        log.reset()
