"""Settings of the uvicorn process of the async tests: the test settings, served on loopback."""

from tests.settings import *  # noqa: F403

ALLOWED_HOSTS = ["127.0.0.1"]
