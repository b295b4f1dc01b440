"""Codecs of cached values. The default is JSON with tagged types: it never unpickles."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
import zlib
import zoneinfo
from typing import Any, Protocol

from django.apps import apps
from django.db import models
from django.db.models.query import QuerySet

_TAG = "__dc"
_JSON = b"J"
_ZLIB = b"Z"


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


def _prepare(value: Any) -> Any:
    """``value`` as plain JSON data; every type JSON would change is tagged."""
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    if kind is list:
        return [_prepare(v) for v in value]
    if kind is dict:
        if _TAG in value or any(type(k) is not str for k in value):
            # A tag key or non-string keys: kept as pairs, never read back as a tag.
            return {_TAG: "dict", "v": [[_prepare(k), _prepare(v)] for k, v in value.items()]}
        return {k: _prepare(v) for k, v in value.items()}
    if kind is tuple:
        return {_TAG: "tup", "v": [_prepare(v) for v in value]}
    return _encode_extra(value)


def _encode_extra(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if isinstance(value.tzinfo, zoneinfo.ZoneInfo):
            # The wall time, fold and zone name: the very same datetime, even in a DST gap.
            wall = value.replace(tzinfo=None).isoformat()
            return {_TAG: "dt", "v": wall, "z": value.tzinfo.key, "f": value.fold}
        return {_TAG: "dt", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {_TAG: "d", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {_TAG: "t", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {_TAG: "td", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {_TAG: "dec", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": value.hex}
    if isinstance(value, bytearray):
        return {_TAG: "ba", "v": value.hex()}
    if isinstance(value, (bytes, memoryview)):
        return {_TAG: "b", "v": bytes(value).hex()}
    if isinstance(value, frozenset):
        return {_TAG: "fset", "v": [_prepare(v) for v in value]}
    if isinstance(value, set):
        return {_TAG: "set", "v": [_prepare(v) for v in value]}
    if isinstance(value, models.Model):
        return _encode_instance(value)
    if isinstance(value, QuerySet):
        return [_prepare(v) for v in value]
    if isinstance(value, str):  # str subclasses (SafeString...) are read back as str
        return str(value)
    raise TypeError(
        f"django_distcache cannot cache a value of type {type(value).__name__}; "
        "return JSON-compatible data, model instances, querysets, dates, decimals or "
        "UUIDs, or set DISTCACHE['SERIALIZER'] to a codec that handles it."
    )


def _encode_instance(value: models.Model) -> dict[str, Any]:
    label = value._meta.label_lower
    prefetched = getattr(value, "_prefetched_objects_cache", None)
    if prefetched:
        raise TypeError(
            f"django_distcache cannot cache a {label} instance with prefetched relations "
            f"({', '.join(prefetched)}): a hit could not return them; "
            "cache the related objects separately or drop prefetch_related()."
        )
    fields = {f.attname for f in value._meta.concrete_fields}
    # Deferred fields stay deferred: only the loaded ones are stored.
    names = [f.attname for f in value._meta.concrete_fields if f.attname in value.__dict__]
    # Annotations and other public attributes set on the instance are kept.
    extra = {
        name: _prepare(attr)
        for name, attr in value.__dict__.items()
        if name not in fields and not name.startswith("_")
    }
    return {
        _TAG: "m",
        "m": label,
        "f": names,
        "v": [_prepare(value.__dict__[n]) for n in names],
        "a": extra,
        "db": value._state.db,
    }


def _decode_extra(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if tag is None:
        return obj
    value: Any = obj.get("v")
    if tag == "dict":
        return {k: v for k, v in value}
    if tag == "dt":
        decoded = datetime.datetime.fromisoformat(value)
        if "z" in obj:
            return decoded.replace(tzinfo=zoneinfo.ZoneInfo(obj["z"]), fold=obj["f"])
        return decoded
    if tag == "d":
        return datetime.date.fromisoformat(value)
    if tag == "t":
        return datetime.time.fromisoformat(value)
    if tag == "td":
        return datetime.timedelta(*value)
    if tag == "dec":
        return decimal.Decimal(value)
    if tag == "uuid":
        return uuid.UUID(value)
    if tag == "b":
        return bytes.fromhex(value)
    if tag == "ba":
        return bytearray.fromhex(value)
    if tag == "set":
        return set(value)
    if tag == "fset":
        return frozenset(value)
    if tag == "tup":
        return tuple(value)
    if tag == "m":
        model = apps.get_model(obj["m"])
        instance = model.from_db(obj.get("db"), obj["f"], value)
        for name, attr in obj.get("a", {}).items():
            setattr(instance, name, attr)
        return instance
    raise ValueError(f"unknown tag {tag!r} in a cached value")


def _refuse(o: Any) -> Any:
    raise TypeError(f"cannot encode {type(o).__name__}")  # _prepare left nothing else


class JSONSerializer:
    """JSON plus dates, decimals, UUIDs, bytes, sets, tuples, non-string dict keys and
    model instances, each read back as the type it was (a dict holding the tag key too).

    Values of at least ``compress_min_bytes`` are zlib-compressed.
    """

    def __init__(self, compress_min_bytes: int = 4096) -> None:
        self.compress_min_bytes = compress_min_bytes
        self._encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_refuse)
        self._decoder = json.JSONDecoder(object_hook=_decode_extra)

    def dumps(self, value: Any) -> bytes:
        data = self._encoder.encode(_prepare(value)).encode()
        if self.compress_min_bytes and len(data) >= self.compress_min_bytes:
            return _ZLIB + zlib.compress(data, 1)
        return _JSON + data

    def loads(self, data: bytes) -> Any:
        marker, body = data[:1], data[1:]
        if marker == _ZLIB:
            body = zlib.decompress(body)
        elif marker != _JSON:
            raise ValueError(f"unknown cache encoding {marker!r}")
        return self._decoder.decode(body.decode())
