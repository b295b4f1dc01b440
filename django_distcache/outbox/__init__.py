"""The invalidation outbox: recorded in the writer's transaction, applied after commit, replayed.

``record`` (inside the transaction) and ``apply`` (after commit) are what invalidation
calls; ``replay`` runs from the Celery task and, as ``recover``, from the breaker's
probe before the cache is trusted again. Models are imported lazily: this package is
imported while the app registry loads.
"""

from django_distcache.outbox.apply import apply
from django_distcache.outbox.record import keep, record
from django_distcache.outbox.replay import figures, recover, replay

__all__ = ["apply", "figures", "keep", "record", "recover", "replay"]
