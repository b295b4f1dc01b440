"""Which models are cached, with their timeouts and dependencies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models.signals import post_init, pre_init

from django_distcache import keys
from django_distcache.conf import get_settings

ModelRef = type[models.Model] | str


class NotRegistered(LookupError):
    """Raised when a model is used with get_object() but was never registered."""


def resolve_model(ref: ModelRef) -> type[models.Model]:
    """A model class from a class or an ``"app_label.Model"`` string."""
    if isinstance(ref, str):
        try:
            return apps.get_model(ref)
        except (LookupError, ValueError) as exc:
            raise LookupError(
                f"{ref!r} is not an installed model; use 'app_label.ModelName'."
            ) from exc
    if isinstance(ref, type) and issubclass(ref, models.Model):
        return ref
    raise TypeError(f"expected a model class or 'app_label.ModelName', got {ref!r}")


@dataclass
class ModelConfig:
    """How one registered model is cached."""

    model: type[models.Model]
    timeout: float | None = None
    depends_on: tuple[type[models.Model], ...] = ()
    # Whether write_behind() may buffer writes to this model (see writebehind).
    write_behind: bool = False
    # Seconds a stale entry is served while one refresh runs (None: the setting).
    stale_while_revalidate: float | None = None
    # Whether reads push the expiry back (None: DISTCACHE["SLIDING"]).
    sliding: bool | None = None
    # Whether reads go through the process's near cache (see reads.near).
    near_cache: bool = False
    _derived: tuple[Any, ...] = field(default=(None,), repr=False)

    def _keys(self) -> tuple[Any, ...]:
        conf = get_settings()
        if self._derived[0] is not conf:
            gens = tuple(
                keys.dedupe(
                    [keys.objects_generation(self.model)]
                    + [keys.model_generation(m) for m in self.depends_on]
                )
            )
            base: dict[str | None, str] = {}
            attnames = tuple(f.attname for f in self.model._meta.concrete_fields)
            from django_distcache.reads.readthrough import freshness, serializer

            policy = freshness(self.effective_timeout, self.stale_while_revalidate, self.sliding)
            self._derived = (conf, gens, base, attnames, serializer(), policy)
        return self._derived

    @property
    def serializer(self) -> Any:
        """The codec of this model's entries."""
        return self._keys()[4]

    @property
    def freshness(self) -> Any:
        """How this model's entries age (readthrough.Freshness)."""
        return self._keys()[5]

    @property
    def plain_init(self) -> bool:
        """Whether instances may be built without ``__init__``: no pre/post_init receivers
        (which ``__init__`` would send), no ``__init__`` or ``from_db`` override."""
        return (
            self.model.__init__ is models.Model.__init__
            and not pre_init.has_listeners(self.model)
            and not post_init.has_listeners(self.model)
            and self.model.from_db.__func__ is models.Model.from_db.__func__  # type: ignore[attr-defined]
        )

    @property
    def namespace(self) -> str:
        return self.model._meta.label_lower

    @property
    def generation_keys(self) -> tuple[str, ...]:
        """The generations an object entry lives under."""
        return self._keys()[1]

    @property
    def attnames(self) -> tuple[str, ...]:
        return self._keys()[3]

    def object_prefix(self, using: str | None = None) -> str:
        """What the keys of rows read from ``using`` begin with."""
        prefixes = self._keys()[2]
        prefix = prefixes.get(using)
        if prefix is None:
            prefix = prefixes[using] = keys.object_prefix(self.model, using)
        return prefix

    def object_base(self, pk: object, using: str | None = None) -> str:
        """The key of row ``pk`` (in any spelling) read from ``using`` (see keys.object_base).

        ``pk=""``: the prefix of every key (the key of no row).
        """
        if pk == "":
            return self.object_prefix(using)
        return self.object_prefix(using) + keys.pk_part(self.model, pk)

    @property
    def effective_timeout(self) -> float:
        return self.timeout if self.timeout is not None else get_settings().TIMEOUT


_configs: dict[type[models.Model], ModelConfig] = {}
# Proxies of registered models read through their concrete model's registration.
_proxy_configs: dict[type[models.Model], ModelConfig | None] = {}
_tracked: set[type[models.Model]] = set()


def register(
    model: ModelRef,
    *,
    timeout: float | None = None,
    depends_on: Iterable[ModelRef] = (),
    write_behind: bool = False,
    stale_while_revalidate: float | None = None,
    sliding: bool | None = None,
    near_cache: bool = False,
) -> ModelConfig:
    """Cache ``model`` by primary key and invalidate it on every write.

    ``depends_on`` names models whose changes invalidate every cached object of
    ``model`` (for example when its entries are used together with a Category's).
    ``write_behind=True`` lets ``write_behind()`` buffer writes to it in Redis.
    ``stale_while_revalidate`` (seconds) serves an expired entry that long while one
    refresh runs in the background; ``sliding=True`` pushes expiry back on every read
    (up to DISTCACHE["SLIDING_MAX_AGE"]). None: the DISTCACHE settings of those names.
    ``near_cache=True`` keeps its objects in each process too (see the near cache docs).
    """
    from django_distcache.reads.readthrough import check_options

    check_options(stale_while_revalidate, sliding)
    model_cls = resolve_model(model)
    if near_cache and write_behind:
        raise ValueError(
            f"{model_cls._meta.label}: near_cache=True cannot be combined with "
            "write_behind=True (each read lays the buffered writes over the entry in Redis)."
        )
    config = ModelConfig(
        model=model_cls,
        timeout=timeout,
        depends_on=tuple(resolve_model(m) for m in depends_on),
        write_behind=write_behind,
        stale_while_revalidate=stale_while_revalidate,
        sliding=sliding,
        near_cache=near_cache,
    )
    _configs[model_cls] = config
    _proxy_configs.clear()
    from django_distcache.invalidation import capture

    capture.forget_plans()
    for tracked in (model_cls, *config.depends_on):
        track(tracked)
    if write_behind:
        from django_distcache.writebehind.ordering import connect_receivers

        connect_receivers(model_cls)
    return config


def track(model: type[models.Model]) -> None:
    """Invalidate what is cached of ``model`` on every write to it (once)."""
    if model in _tracked:
        return
    from django_distcache.invalidation import capture, flush

    _tracked.add(model)
    capture.install()
    flush.install()
    capture.forget_plans()


def find_config(model: type[models.Model]) -> ModelConfig | None:
    """The registration of ``model`` (or, for a proxy, of its concrete model), or None."""
    config = _configs.get(model)
    if config is not None or not model._meta.proxy:
        return config
    if model not in _proxy_configs:
        concrete = _configs.get(model._meta.concrete_model)  # type: ignore[arg-type]
        _proxy_configs[model] = None if concrete is None else replace(concrete, model=model)
    return _proxy_configs[model]


def write_behind_models() -> list[type[models.Model]]:
    """Registered models that use write-behind."""
    return [model for model, config in _configs.items() if config.write_behind]


def near_cache_models() -> list[type[models.Model]]:
    """Registered models kept in each process's near cache."""
    return [model for model, config in _configs.items() if config.near_cache]


def get_config(model: type[models.Model]) -> ModelConfig:
    config = find_config(model)
    if config is None:
        raise NotRegistered(
            f"{model._meta.label} is not registered with django_distcache; call "
            "django_distcache.register() in the app's distcache.py or list it in "
            "DISTCACHE['MODELS']."
        )
    return config


def registered_models() -> list[type[models.Model]]:
    return list(_configs)


def tracked_models() -> set[type[models.Model]]:
    return set(_tracked)


def register_from_settings() -> None:
    """Register the models listed in DISTCACHE['MODELS']."""
    for label, options in get_settings().MODELS.items():
        options = options or {}
        register(
            label,
            timeout=options.get("timeout"),
            depends_on=options.get("depends_on", ()),
            write_behind=bool(options.get("write_behind", False)),
            stale_while_revalidate=options.get("stale_while_revalidate"),
            sliding=options.get("sliding"),
            near_cache=bool(options.get("near_cache", False)),
        )
