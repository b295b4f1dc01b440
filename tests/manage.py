#!/usr/bin/env python
"""manage.py of the test project (the commands' subprocess tests run it)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.core.management import execute_from_command_line

    # as a project's package __init__ does: tasks are sent through the project's Celery app
    import tests.celery_app  # noqa: F401

    execute_from_command_line(sys.argv)
