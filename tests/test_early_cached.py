"""A function decorated before the app registry is ready is tracked once it is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.testapp.models import Uncached
from tests.workers import ROOT, worker_env

# Decorated before django.setup(), as in a module imported while the apps load.
# "read" prints names(); "write NAME" creates a row without ever calling names().
EARLY = """
import sys
import django_distcache

@django_distcache.cached(depends_on=["testapp.Uncached"])
def names():
    from tests.testapp.models import Uncached
    return sorted(Uncached.objects.values_list("name", flat=True))

import django
django.setup()
from tests.testapp.models import Uncached
if sys.argv[1] == "read":
    print(names())
else:
    Uncached.objects.create(name=sys.argv[2])
"""


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", EARLY, *args],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_a_process_that_never_called_the_function_still_invalidates_it():
    # Uncached is registered nowhere: only the function's dependency connects its receivers.
    Uncached.objects.create(name="first")
    assert _run("read") == "['first']"
    _run("write", "second")
    assert _run("read") == "['first', 'second']"
