"""What distcache_stats shows: named sections of rows, extensible by other modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_distcache.redis.errors import RedisError

Section = Callable[[], list[dict[str, Any]]]

_sections: dict[str, Section] = {}


def register_section(name: str) -> Callable[[Section], Section]:
    """Add a section (a function returning rows of dicts) to ``distcache_stats``."""

    def decorator(func: Section) -> Section:
        _sections[name] = func
        return func

    return decorator


def sections() -> dict[str, list[dict[str, Any]]]:
    """Every section's rows, in registration order (``distcache_stats --json`` dumps this).

    A section that needs Redis while it is unavailable shows the error instead (the
    outage section is the one to read then).
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for name, func in _sections.items():
        try:
            found[name] = func()
        except RedisError as exc:
            found[name] = [{"error": f"Redis is unavailable: {exc}"}]
    return found


@register_section("outages")
def outages() -> list[dict[str, Any]]:
    from django_distcache.stats.outages import rows

    return rows()


@register_section("write_behind")
def write_behind_backlog() -> list[dict[str, Any]]:
    from django_distcache.writebehind import backlog

    rows = backlog()
    for row in rows:
        row["coalescing"] = round(row["writes"] / row["rows"], 2) if row["rows"] else None
    return rows


@register_section("warm_runs")
def warm_runs() -> list[dict[str, Any]]:
    from django_distcache.warming import recent_runs

    return recent_runs(10)


@register_section("local_counts")
def local_counts() -> list[dict[str, Any]]:
    from django_distcache import stats

    by_namespace: dict[str, dict[str, Any]] = {}
    for (namespace, event), count in sorted(stats.local_counts().items()):
        by_namespace.setdefault(namespace, {"namespace": namespace})[event] = count
    return list(by_namespace.values())
