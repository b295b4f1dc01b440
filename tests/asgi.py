"""The test project's ASGI application (served by uvicorn in the async tests)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = get_asgi_application()

from tests.async_views import install_counter  # noqa: E402  (needs the apps loaded)

install_counter()  # before the first request opens a database connection
