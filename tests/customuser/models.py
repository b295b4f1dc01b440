"""A swapped user model (AUTH_USER_MODEL), installed only by ``tests.customuser_settings``."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    """A project's own user model, with a field of its own."""

    nickname = models.CharField(max_length=50, blank=True)
