"""System checks of the invalidation settings: distcache.E050 and E051."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from django_distcache.checks import is_number
from django_distcache.conf import get_settings


@register(Tags.caches)
def check_invalidation_settings(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[Error]:
    """RAW_SQL_INVALIDATION is a boolean; REPLICAS maps database aliases; REPLICA_LAG >= 0."""
    conf = get_settings()
    errors = []
    if not isinstance(conf.RAW_SQL_INVALIDATION, bool):
        errors.append(
            Error(
                "DISTCACHE['RAW_SQL_INVALIDATION'] must be True or False, "
                f"got {conf.RAW_SQL_INVALIDATION!r}.",
                id="distcache.E050",
            )
        )
    replicas = conf.REPLICAS
    aliases = set(settings.DATABASES)
    if not isinstance(replicas, dict) or not all(
        replica in aliases and primary in aliases for replica, primary in replicas.items()
    ):
        errors.append(
            Error(
                "DISTCACHE['REPLICAS'] must map replica aliases to primary aliases, both in "
                f"DATABASES ({', '.join(sorted(aliases))}); got {replicas!r}.",
                id="distcache.E051",
            )
        )
    if not is_number(conf.REPLICA_LAG) or conf.REPLICA_LAG < 0:
        errors.append(
            Error(
                "DISTCACHE['REPLICA_LAG'] must be a number of seconds >= 0, "
                f"got {conf.REPLICA_LAG!r}.",
                id="distcache.E051",
            )
        )
    return errors
