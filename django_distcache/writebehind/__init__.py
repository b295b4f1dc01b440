"""Write-behind: writes buffered in Redis, flushed to the database in batches."""

from django_distcache.writebehind.backlog import backlog
from django_distcache.writebehind.buffer import NotWriteBehind
from django_distcache.writebehind.deadletters import (
    dead_letters,
    discard_dead_letters,
    replay_dead_letters,
)
from django_distcache.writebehind.flush import flush_write_behind, write_behind_models
from django_distcache.writebehind.write import (
    WriteBehindFull,
    WriteBehindNotReplicated,
    WriteBehindUnavailable,
    write_behind,
    write_behind_incr,
    write_through,
)

__all__ = [
    "NotWriteBehind",
    "WriteBehindFull",
    "WriteBehindNotReplicated",
    "WriteBehindUnavailable",
    "backlog",
    "dead_letters",
    "discard_dead_letters",
    "flush_write_behind",
    "replay_dead_letters",
    "write_behind",
    "write_behind_incr",
    "write_behind_models",
    "write_through",
]
