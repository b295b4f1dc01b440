"""A cached function that a Celery worker finds by its dotted name to refresh it."""

import django_distcache
from tests.testapp.models import Category


@django_distcache.cached(timeout=60, stale_while_revalidate=30, depends_on=[Category])
def category_names(prefix: str) -> list[str]:
    return sorted(Category.objects.filter(name__startswith=prefix).values_list("name", flat=True))
