"""System checks of the registered models: a hit must return what a miss would."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_distcache.conf import DEFAULTS, get_settings
from django_distcache.registry import registered_models

# Field types whose values the default codec stores and reads back as they were.
ENCODABLE_FIELDS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "BooleanField",
        "NullBooleanField",
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "URLField",
        "GenericIPAddressField",
        "IPAddressField",
        "FilePathField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "FloatField",
        "DecimalField",
        "DateField",
        "DateTimeField",
        "TimeField",
        "DurationField",
        "UUIDField",
        "BinaryField",
        "JSONField",
        "ForeignKey",
        "OneToOneField",
    }
)


@register(Tags.models)
def check_registered_models(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list:
    """distcache.E040: the default manager defers or annotates; W030: a field the default
    codec may not encode (such objects are served uncached)."""
    messages: list[CheckMessage] = []
    default_codec = DEFAULTS["SERIALIZER"] == get_settings().SERIALIZER
    for model in registered_models():
        label = model._meta.label
        query = model._default_manager.all().query
        deferred, defer = query.deferred_loading
        changed = sorted(query.annotations) + (sorted(deferred) if defer or deferred else [])
        if changed:
            messages.append(
                Error(
                    f"{label} is cached by primary key, but its default manager defers "
                    f"or annotates {', '.join(map(repr, changed))}: a cache hit "
                    "could not return the object the manager returns.",
                    hint="Give the model a plain default manager (Meta.default_manager_name) "
                    "or do not register it.",
                    obj=model,
                    id="distcache.E040",
                )
            )
        if not default_codec:
            continue
        for field in model._meta.concrete_fields:
            if field.get_internal_type() not in ENCODABLE_FIELDS:
                messages.append(
                    Warning(
                        f"{label}.{field.name} is a {field.get_internal_type()}, which the "
                        "default codec may not encode; objects it cannot encode are read "
                        "from the database every time.",
                        hint="Set DISTCACHE['SERIALIZER'] to a codec that handles it.",
                        obj=model,
                        id="distcache.W040",
                    )
                )
    return messages
