"""Where the write-behind buffer lives in Redis, and how a buffered row is read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import models

from django_distcache import keys
from django_distcache.reads import readthrough
from django_distcache.redis.buffer import list_model
from django_distcache.registry import ModelConfig, get_config

# Layout, per model (W = "<prefix>:wb:{<app_label.model>}": the concrete model's label
# as a hash tag, so that every key a script touches is in one Redis Cluster slot; <pk>
# is the row's key part, keys.pk_text made key-safe as in every other key):
#   W:pending       zset   pk -> when the row is due (ms): first write, or retry time
#   W:f:<pk>        string set while the row has deferred writes not in the database
#                          (read with a hit: only then is the buffer read)
#   W:since         zset   pk -> when its oldest write not yet in the database was made
#                          (ms), pending, in flight or retried: the backlog's age
#   W:r:<pk>        hash   the row's deferred writes: v:<attname> (encoded value),
#                          i:<attname> (summed increment), n (writes), since, attempts, error,
#                          crashes (its flushes that died)
#   W:claimed       hash   pk -> id of the batch holding the row (one batch per row)
#   W:h:<pk>        hash   the row's deferred writes while the batch holding it applies them
#   W:batches       zset   batch id -> lease expiry (ms)
#   W:b:<id>        hash   txid of the database transaction applying it, p:<pk> per row,
#                          and the decisions about failed rows
#   W:txids         hash   batch id -> its txid (read with a row's writes)
#   W:m:<pk>        hash   deferred writes that direct writes in progress set aside
#                          (marks): "<token>:<field>", with <token>:txid (its
#                          transaction), <token>:at and <token>:seen (ms); see ordering.py
#   W:marks         zset   "<token>:<pk>" -> when marked (ms): marks not yet settled
#   W:dead          list   dead letters (encoded dicts), trimmed to the newest kept
#   W:stats         hash   writes, rows, dead_lettered
#   W:trigger       string set while a flush started by the batch size is recent
# and "<prefix>:wb:models", the set of labels that ever buffered a write (written by
# Python, once per process and model: it is not in the model's slot).


class NotWriteBehind(LookupError):
    """Raised when write_behind() is used on a model not registered for it."""


def now_ms() -> int:
    return int(time.time() * 1000)


def models_key() -> str:
    return f"{keys.prefix()}:wb:models"


def announce(label: str) -> None:
    """List ``label`` among the models that buffered writes (once per process, client and
    model). NOTE: one round trip, the first time only."""
    list_model(models_key(), label)


def row_part(key_pk: Any) -> str:
    """Row ``key_pk`` (already in keys.pk_text's spelling) as the last part of a key."""
    text = str(key_pk)
    return text if text.isascii() and text.isdigit() else keys.safe_part(text)


@dataclass(frozen=True)
class BufferKeys:
    """The Redis keys of one model's buffer (``label``: the concrete model's)."""

    label: str

    @cached_property
    def root(self) -> str:
        return f"{keys.prefix()}:wb:{{{keys.safe_part(self.label, 120)}}}"

    @property
    def pending(self) -> str:
        return f"{self.root}:pending"

    @property
    def since(self) -> str:
        return f"{self.root}:since"

    @property
    def claimed(self) -> str:
        return f"{self.root}:claimed"

    @property
    def batches(self) -> str:
        return f"{self.root}:batches"

    @property
    def txids(self) -> str:
        return f"{self.root}:txids"

    @property
    def marks(self) -> str:
        return f"{self.root}:marks"

    @property
    def dead(self) -> str:
        return f"{self.root}:dead"

    @property
    def stats(self) -> str:
        return f"{self.root}:stats"

    @property
    def trigger(self) -> str:
        return f"{self.root}:trigger"

    def batch(self, batch_id: str) -> str:
        return f"{self.root}:b:{batch_id}"

    def record(self, key_pk: Any) -> str:
        return f"{self.root}:r:{row_part(key_pk)}"

    def flag(self, key_pk: Any) -> str:
        return f"{self.root}:f:{row_part(key_pk)}"

    def held(self, key_pk: Any) -> str:
        return f"{self.root}:h:{row_part(key_pk)}"

    def row_marks(self, key_pk: Any) -> str:
        return f"{self.root}:m:{row_part(key_pk)}"

    def rows(self, key_pks: Iterable[Any], *kinds: str) -> list[str]:
        """For each row in turn, its keys of ``kinds`` ("record", "flag", "held",
        "row_marks"): the per-row KEYS of a script."""
        getters = [getattr(self, kind) for kind in kinds]
        return [get(key_pk) for key_pk in key_pks for get in getters]


def buffer_keys(model: type[models.Model]) -> BufferKeys:
    """The buffer of ``model``'s rows: a proxy writes to its concrete model's."""
    return BufferKeys(keys.model_label(model))


def write_behind_config(model: type[models.Model]) -> ModelConfig:
    """The registration of ``model``; raises NotWriteBehind unless it allows write-behind."""
    config = get_config(model)
    if not config.write_behind:
        raise NotWriteBehind(
            f"{model._meta.label} does not allow write-behind; register it with "
            "django_distcache.register(Model, write_behind=True) or the 'write_behind' "
            "option of DISTCACHE['MODELS']."
        )
    return config


def lease_expiry() -> int:
    """When (ms) a batch claimed now may be recovered by another flush."""
    from django_distcache.conf import get_settings

    return now_ms() + int(get_settings().WRITE_BEHIND_LEASE_TIMEOUT * 1000)


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Record:
    """The deferred writes of one row, as read from its buffer hash."""

    values: dict[str, Any] = field(default_factory=dict)
    increments: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    attempts: int = 0
    crashes: int = 0
    since: int = 0
    error: str = ""

    @property
    def empty(self) -> bool:
        return not self.values and not self.increments

    @property
    def fields(self) -> list[str]:
        return sorted(set(self.values) | set(self.increments))


def parse_record(flat: list[bytes]) -> Record:
    """A Record from an HGETALL answer given as a flat list."""
    record = Record()
    codec = readthrough.serializer()
    for name, value in zip(flat[::2], flat[1::2], strict=True):
        text = name.decode()
        if text.startswith("v:"):
            record.values[text[2:]] = codec.loads(value)
        elif text.startswith("i:"):
            record.increments[text[2:]] = int(value)
        elif text == "n":
            record.writes = int(value)
        elif text == "attempts":
            record.attempts = int(value)
        elif text == "crashes":
            record.crashes = int(value)
        elif text == "since":
            record.since = int(value)
        elif text == "error":
            record.error = value.decode(errors="replace")
    return record


def apply_record(instance: models.Model, record: Record) -> None:
    """Set ``record``'s writes on ``instance`` in place (values, then increments)."""
    for name, value in record.values.items():
        instance.__dict__[name] = value
    for name, amount in record.increments.items():
        instance.__dict__[name] = add_to(instance.__dict__.get(name), amount)


def add_to(value: Any, amount: int) -> Any:
    """``value`` + ``amount``, NULL counting as 0: the one rule of the overlay and the flush."""
    return (0 if value is None else value) + amount
