"""Check each deferred write when it is made, as the column would take it."""

from __future__ import annotations

import decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, models, router

# What a field's own conversions raise for a value it cannot take.
_REFUSED = (ValidationError, ValueError, TypeError, OverflowError, decimal.InvalidOperation)
# Columns an increment may add to.
_NUMERIC = (models.IntegerField, models.FloatField, models.DecimalField)


def checked_pk(model: type[models.Model], pk: Any) -> Any:
    """``pk`` as the model's primary key takes it; ValueError if it cannot be one."""
    if pk is None:
        raise ValueError(
            f"{model._meta.label}: a deferred write needs the primary key of a saved row, "
            "got None (save the instance first)."
        )
    try:
        return model._meta.pk.to_python(pk)  # type: ignore[union-attr]
    except _REFUSED as exc:
        raise ValueError(f"{model._meta.label}: {pk!r} is not a primary key ({exc}).") from exc


def writable_field(model: type[models.Model], name: str) -> models.Field:
    """The concrete, non-key field ``name`` (FieldDoesNotExist if there is none)."""
    field = model._meta.get_field(name)
    if not field.concrete or field.primary_key or field.many_to_many:
        raise ValueError(f"{model._meta.label}.{name} is not a writable column.")
    return field  # type: ignore[return-value]


def checked_value(model: type[models.Model], field: models.Field, value: Any) -> Any:
    """``value`` as ``field`` converts it (to_python), after checking that the column
    takes it (null, get_db_prep_save, max_length, the database's integer range);
    ValueError if not."""
    label = f"{model._meta.label}.{field.name}"
    if value is None:
        if not field.null:
            raise ValueError(f"{label} cannot be NULL.")
        return None
    connection = connections[router.db_for_write(model)]
    try:
        value = field.to_python(value)
        field.get_db_prep_save(value, connection)
        if isinstance(field, models.IntegerField):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"out of the column's range {low}..{high}")
        max_length = getattr(field, "max_length", None)
        if isinstance(value, str) and max_length is not None and len(value) > max_length:
            raise ValueError(f"longer than its {max_length} characters")
    except _REFUSED as exc:
        raise ValueError(f"{label} cannot take {value!r}: {_message(exc)}") from exc
    return value


def numeric_field(model: type[models.Model], name: str) -> models.Field:
    """The number column ``name`` that an increment adds to; ValueError if it is not one."""
    field = writable_field(model, name)
    if not isinstance(field, _NUMERIC) or field.is_relation:
        raise ValueError(
            f"{model._meta.label}.{name} is not a number column; write_behind_incr() adds "
            "to integer, float and decimal columns only."
        )
    return field


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or type(exc).__name__
