"""The documentation site builds without warnings and documents every setting and check."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from django.core import checks

from django_distcache.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import docs_hooks  # noqa: E402


def test_the_site_builds_strictly(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr
    settings_page = (tmp_path / "site" / "settings" / "index.html").read_text()
    assert "<code>WRITE_BEHIND_QUEUE</code>" in settings_page
    assert "Unreleased" in (tmp_path / "site" / "changelog" / "index.html").read_text()


def test_every_setting_is_documented_in_conf_py():
    documented = {name: text for name, _default, text in docs_hooks.documented_settings()}
    assert set(documented) == set(DEFAULTS), "a setting outside the DEFAULTS literal"
    undocumented = [name for name, text in documented.items() if not text.strip()]
    assert not undocumented, f"add a comment above these settings in conf.py: {undocumented}"


def test_every_system_check_is_in_the_checks_page():
    page = docs_hooks.checks_reference()
    source = "\n".join(p.read_text() for p in (ROOT / "django_distcache").rglob("*.py"))
    ids = set(re.findall(r"distcache\.[EW]\d{3}", source))
    assert ids, "no check ids found in the package"
    missing = sorted(i for i in ids if f"`{i}`" not in page)
    assert not missing, f"document these checks in the README's table: {missing}"
    assert checks.registry.registry  # the package's checks are registered at all


def test_every_management_command_is_in_the_commands_page():
    page = (ROOT / "docs" / "commands.md").read_text()
    commands = ROOT / "django_distcache" / "management" / "commands"
    names = sorted(p.stem for p in commands.glob("distcache_*.py"))
    assert names, "no management commands found"
    missing = [name for name in names if f"`{name}" not in page]
    assert not missing, f"document these commands in docs/commands.md: {missing}"
