"""DistcacheManager: a queryset that keeps write-behind ordered against update()."""

from __future__ import annotations

from typing import Any

from django.db import models


class DistcacheQuerySetMixin:
    """Keeps write-behind ordered against ``update()``; a convenience, not needed for
    invalidation.

    Every ORM write is invalidated where Django turns it into SQL (see
    ``invalidation.capture``), through any manager. What this mixin adds: an
    ``update()`` of a write-behind model drops the deferred writes it overwrote.
    """

    model: Any
    db: Any

    def update(self, **kwargs: Any) -> int:
        mark = _write_behind_mark(self, kwargs)
        rows = super().update(**kwargs)  # type: ignore[misc]
        if mark is not None:
            mark.drop_on_commit(self.db)
        return rows


def _write_behind_mark(queryset: Any, values: dict[str, Any]) -> Any:
    """For a write-behind model: set aside the deferred writes an update() supersedes
    (see writebehind.ordering). NOTE: costs one query for the primary keys."""
    from django_distcache.registry import find_config

    config = find_config(queryset.model)
    if config is None or not config.write_behind:
        return None
    from django_distcache.writebehind.ordering import mark, plain_update_attnames

    attnames = plain_update_attnames(queryset.model, values)
    if not attnames:
        return None
    pks = list(queryset.values_list("pk", flat=True))
    return mark(queryset.model, pks, attnames, using=queryset.db)


class DistcacheQuerySet(DistcacheQuerySetMixin, models.QuerySet):
    """A QuerySet with ``DistcacheQuerySetMixin``."""


DistcacheManager = models.Manager.from_queryset(DistcacheQuerySet)
DistcacheManager.__doc__ = (
    "A manager whose update() keeps write-behind ordered (see DistcacheQuerySetMixin)."
)
