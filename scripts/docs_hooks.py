"""MkDocs hooks: the settings reference generated from conf.py, the changelog from CHANGELOG.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "django_distcache" / "conf.py"
CHANGELOG = ROOT / "CHANGELOG.md"
README = ROOT / "README.md"
_KEY = re.compile(r'^\s+"([A-Z][A-Z0-9_]*)":\s*(.+?),?\s*$')
_COMMENT = re.compile(r"^\s*#\s?(.*)$")


def documented_settings() -> list[tuple[str, str, str]]:
    """(name, default as written, description) of each DEFAULTS entry, in order; the
    description is the comment above it, shared by entries written under one comment."""
    lines = CONF.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DEFAULTS"))
    rows: list[tuple[str, str, str]] = []
    comment: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("}"):
            break
        if match := _COMMENT.match(line):
            comment.append(match.group(1))
            continue
        if match := _KEY.match(line):
            text = " ".join(comment) or (rows[-1][2] if rows else "")
            rows.append((match.group(1), match.group(2), text))
            comment = []
    return rows


def settings_reference() -> str:
    """The settings page: one table row per setting of conf.DEFAULTS."""
    out = [
        "# Settings",
        "",
        "All settings live in one dict, `DISTCACHE`, in the project's settings; unknown names",
        "are rejected by `distcache.E001`. This page is generated from",
        "`django_distcache/conf.py` when the documentation is built.",
        "",
        "| setting | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, default, text in documented_settings():
        default = str(ast.literal_eval(default)) if default[:1] in "0123456789" else default
        escaped = text.replace("|", r"\|")
        out.append(f"| `{name}` | `{default}` | {escaped} |")
    return "\n".join(out) + "\n"


def checks_reference() -> str:
    """The README's table of system checks, as its own page."""
    readme = README.read_text()
    table = readme[
        readme.index("## System checks") : readme.index(
            "\n## ", readme.index("## System checks") + 3
        )
    ]
    return (
        table.replace("## System checks", "# System checks", 1).rstrip()
        + "\n\nEach check is tested with `run_checks()` under `override_settings`; silence one"
        " with `SILENCED_SYSTEM_CHECKS` when you accept what it says.\n"
    )


def changelog() -> str:
    """CHANGELOG.md as a page of the site: its links into docs/ made relative to docs/."""
    return re.sub(r"\]\(docs/", "](", CHANGELOG.read_text())


def on_page_read_source(page: Any, config: Any) -> str | None:
    generated = {
        "settings.md": settings_reference,
        "checks.md": checks_reference,
        "changelog.md": changelog,
    }
    make = generated.get(page.file.src_uri)
    return make() if make else None
