"""A queryset mixin that invalidates on the bulk paths Django sends no signals for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from django_distcache.invalidation import invalidate_model, invalidate_objects


class DistcacheQuerySetMixin:
    """Invalidate after ``update()``, ``delete()``, ``bulk_create()`` and ``bulk_update()``.

    Mix into a model's queryset (or use ``DistcacheManager``) so these paths leave
    nothing stale. Like every invalidation, it takes effect when the transaction commits.
    """

    model: Any
    db: Any

    def update(self, **kwargs: Any) -> int:
        mark = _write_behind_mark(self, kwargs)
        rows = super().update(**kwargs)  # type: ignore[misc]
        # NOTE: which rows changed is unknown without another query, so every cached
        # object of the model goes (one generation bump).
        invalidate_model(self.model, using=self.db)
        if mark is not None:
            mark.drop_on_commit(self.db)
        return rows

    def delete(self) -> tuple[int, dict[str, int]]:
        result = super().delete()  # type: ignore[misc]
        invalidate_model(self.model, using=self.db)
        return result

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> Any:
        created = super().bulk_create(objs, *args, **kwargs)  # type: ignore[misc]
        pks = [obj.pk for obj in created]
        if pks and all(pk is not None for pk in pks) and not kwargs.get("update_conflicts"):
            # New rows: drop any cached "does not exist" for their keys.
            invalidate_objects(self.model, pks, using=self.db)
        else:
            invalidate_model(self.model, using=self.db)
        return created

    def bulk_update(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        rows = super().bulk_update(objs, *args, **kwargs)  # type: ignore[misc]
        invalidate_objects(self.model, [obj.pk for obj in objs], using=self.db)
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
    """A QuerySet with the bulk-path invalidation of ``DistcacheQuerySetMixin``."""


DistcacheManager = models.Manager.from_queryset(DistcacheQuerySet)
DistcacheManager.__doc__ = "A manager whose querysets invalidate on bulk writes."
