"""A small progress bar for the management commands, drawn on stderr."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """``[#####.....] 5/10 note`` redrawn in place; silent when disabled."""

    def __init__(self, stream: Any, total: int, *, enabled: bool = True, width: int = 30) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.enabled = enabled
        self.width = width

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total} {note[:40]:<40}")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
