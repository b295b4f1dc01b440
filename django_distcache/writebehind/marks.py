"""Settle the marks that direct writes left behind (see ordering.py)."""

from __future__ import annotations

from django.db import models

from django_distcache.conf import get_settings
from django_distcache.redis import buffer
from django_distcache.writebehind.buffer import buffer_keys, now_ms
from django_distcache.writebehind.ordering import settle_mark
from django_distcache.writebehind.transactions import commit_status

# Marks looked at per flush.
SETTLE_LIMIT = 1000


def settle_marks(model: type[models.Model], using: str) -> int:
    """Restore the marked writes of direct writes that did not commit; returns how
    many marks were restored.

    A mark whose transaction still runs is left alone, however long it runs. One that
    rolled back is restored at once. A committed one is dropped by its write's own
    commit callback; if that never runs (a savepoint rolled the write back, or the
    process died), the mark is restored a lease timeout after its commit was seen.
    A mark made outside a transaction is restored a lease timeout after it was made.
    """
    bkeys = buffer_keys(model)
    tokens: dict[str, list[str]] = {}
    made: dict[str, float] = {}
    for member, score in buffer.first_members(bkeys.marks, SETTLE_LIMIT):
        token, pk = member.split(":", 1)
        tokens.setdefault(token, []).append(pk)
        made[token] = score
    if not tokens:
        return 0
    answers = buffer.fields_of_each(
        [
            (bkeys.row_marks(pks[0]), [f"{token}:txid", f"{token}:seen"])
            for token, pks in tokens.items()
        ]
    )
    now, lease = now_ms(), get_settings().WRITE_BEHIND_LEASE_TIMEOUT * 1000
    restored = 0
    for (token, pks), (txid, seen) in zip(tokens.items(), answers, strict=True):
        txid = (txid or b"").decode()
        if not txid:
            due = now - made[token] > lease
        else:
            status = commit_status(using, txid)
            if status == "in progress":
                continue
            due = status == "aborted" or (seen is not None and now - int(seen) > lease)
            if not due and seen is None:
                buffer.set_field_of_each(map(bkeys.row_marks, pks), f"{token}:seen", now)
        if due:
            settle_mark(model, token, pks, "restore")
            restored += 1
    return restored
