"""The test project's router: the app's own tables (outbox, snapshots) live on ``default``."""

from __future__ import annotations

from typing import Any


class DistcacheTablesOnDefault:
    """Like a project that keeps django_distcache's tables on its main database."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == "django_distcache":
            return db == "default"
        return None
