"""What a write to one model invalidates: its family's entries and generations, m2m sides."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connections, models

from django_distcache import keys
from django_distcache.conf import get_settings
from django_distcache.registry import ModelConfig, find_config, registered_models, tracked_models


@dataclass(frozen=True)
class WritePlan:
    """The invalidation of writes to one model's table."""

    # Bumped by every write: what depends on the model's family (and on the two
    # sides, for an m2m through table).
    generations: tuple[str, ...]
    # Bumped instead of deleting entries when the written rows are unknown.
    all_objects: tuple[str, ...]
    # Registered models whose cached rows share the written rows' primary keys.
    configs: tuple[ModelConfig, ...]

    def entries(self, pks: Iterable[Any]) -> set[str]:
        """The keys of every cached copy of rows ``pks``, from every database alias."""
        aliases = [None, *(a for a in connections if a != "default")]
        return {
            config.object_base(pk, alias)
            for config in self.configs
            for pk in pks
            for alias in aliases
        }


# Plans by model, valid for the settings object they were built under (keys hold KEY_PREFIX).
_plans: dict[Any, WritePlan | None] = {}
_built_under: list[Any] = [None]


def forget_plans() -> None:
    """Recompute plans after a model is registered or tracked."""
    _plans.clear()


def plan_for(model: type[models.Model]) -> WritePlan | None:
    """The plan of writes to ``model`` (None: nothing of it is cached). A dict lookup."""
    conf = get_settings()
    if _built_under[0] is not conf:
        _plans.clear()
        _built_under[0] = conf
    try:
        return _plans[model]
    except KeyError:
        plan = _plans[model] = _build(model)
        return plan


def _shares_keys(member: type[models.Model]) -> bool:
    """Whether ``member``'s rows have the primary keys of its parents' rows (MTI's default)."""
    pk = member._meta.pk
    return not member._meta.parents or bool(
        getattr(pk, "remote_field", None) and pk.remote_field.parent_link
    )  # type: ignore[union-attr]


def _through_sides() -> dict[str, set[str]]:
    """The families of both sides of every many-to-many table, by the table's model label."""
    sides: dict[str, set[str]] = {}
    for model in apps.get_models():
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through  # type: ignore[union-attr]
            if through is None or isinstance(through, str):
                continue
            sides.setdefault(keys.model_label(through), set()).update(
                {keys.family_label(model), keys.family_label(field.related_model)}  # type: ignore[arg-type]
            )
    return sides


def _build(model: type[models.Model]) -> WritePlan | None:
    family = keys.family_label(model)
    tracked = {keys.family_label(m): m for m in tracked_models()}
    generations: list[str] = []
    configs: list[ModelConfig] = []
    all_objects: list[str] = []
    if family in tracked:
        generations.append(keys.model_generation(tracked[family]))
        for registered in registered_models():
            if keys.family_label(registered) != family:
                continue
            config = find_config(registered)
            assert config is not None
            if _shares_keys(registered._meta.concrete_model):  # type: ignore[arg-type]
                configs.append(config)
            else:
                # NOTE: its rows are keyed apart from the written table's: all of them go.
                generations.append(keys.objects_generation(registered))
        if configs:
            all_objects.append(keys.objects_generation(tracked[family]))
    for side in _through_sides().get(keys.model_label(model), ()):
        if side in tracked:
            generations.append(keys.model_generation(tracked[side]))
    if not generations:
        return None
    return WritePlan(tuple(keys.dedupe(generations)), tuple(all_objects), tuple(configs))
