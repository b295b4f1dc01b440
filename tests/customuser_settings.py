"""The test project with a swapped user model (``customuser.Member``) and test databases of
its own; ``tests/test_custom_user_model.py`` runs ``tests/custom_user_matrix.py`` under it in
a pytest process of its own, so the main suite keeps ``auth.User``."""

import copy

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES as _DATABASES
from tests.settings import INSTALLED_APPS as _INSTALLED_APPS

INSTALLED_APPS = [*_INSTALLED_APPS, "tests.customuser"]
AUTH_USER_MODEL = "customuser.Member"

DATABASES = copy.deepcopy(_DATABASES)
for _database in DATABASES.values():
    _database["TEST"]["NAME"] = _database["TEST"]["NAME"].replace(
        "test_distcache", "test_distcache_customuser"
    )
