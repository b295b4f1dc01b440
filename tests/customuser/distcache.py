"""The swapped user model registered as a project would: through get_user_model()."""

from django.contrib.auth import get_user_model

import django_distcache

django_distcache.register(get_user_model())
