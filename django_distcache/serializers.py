"""Codecs of cached values. The default is JSON with tagged types: it never unpickles."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
import zlib
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


def _encode_extra(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
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
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_TAG: "b", "v": bytes(value).hex()}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": list(value)}
    if isinstance(value, tuple):
        return {_TAG: "tup", "v": list(value)}
    if isinstance(value, models.Model):
        names = [f.attname for f in value._meta.concrete_fields if f.attname in value.__dict__]
        return {
            _TAG: "m",
            "m": value._meta.label_lower,
            "f": names,
            "v": [value.__dict__[n] for n in names],
            "db": value._state.db,
        }
    if isinstance(value, QuerySet):
        return list(value)
    raise TypeError(
        f"django_distcache cannot cache a value of type {type(value).__name__}; "
        "return JSON-compatible data, model instances, querysets, dates, decimals or "
        "UUIDs, or set DISTCACHE['SERIALIZER'] to a codec that handles it."
    )


def _decode_extra(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if tag is None:
        return obj
    value: Any = obj.get("v")
    if tag == "dt":
        return datetime.datetime.fromisoformat(value)
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
    if tag == "set":
        return set(value)
    if tag == "tup":
        return tuple(value)
    if tag == "m":
        model = apps.get_model(obj["m"])
        return model.from_db(obj.get("db"), obj["f"], value)
    return obj


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return _encode_extra(o)

    def encode(self, o: Any) -> str:
        # Tuples would silently become lists; keep them tuples.
        return super().encode(_wrap_tuples(o))


def _wrap_tuples(value: Any) -> Any:
    if isinstance(value, tuple):
        return _encode_extra(tuple(_wrap_tuples(v) for v in value))
    if isinstance(value, list):
        return [_wrap_tuples(v) for v in value]
    if isinstance(value, dict):
        return {k: _wrap_tuples(v) for k, v in value.items()}
    return value


class JSONSerializer:
    """JSON plus dates, decimals, UUIDs, bytes, sets, tuples and model instances.

    Values of at least ``compress_min_bytes`` are zlib-compressed.
    """

    def __init__(self, compress_min_bytes: int = 4096) -> None:
        self.compress_min_bytes = compress_min_bytes
        self._encoder = _Encoder(separators=(",", ":"), ensure_ascii=False)
        self._decoder = json.JSONDecoder(object_hook=_decode_extra)

    def dumps(self, value: Any) -> bytes:
        data = self._encoder.encode(value).encode()
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
