"""The async benchmark's views: a product by pk through each contender, in an async view."""

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.urls import path

import django_distcache
from tests.testapp.models import Product


async def distcache(request: HttpRequest, pk: int) -> HttpResponse:
    product = await django_distcache.aget_object(Product, pk)
    return HttpResponse(product.name)


async def rediscache(request: HttpRequest, pk: int) -> HttpResponse:
    """Cache-aside with Django's RedisCache as its docs show it (aget: a thread per call)."""
    cache = caches["builtin"]
    key = f"product:{pk}"
    product = await cache.aget(key)
    if product is None:
        product = await Product.objects.aget(pk=pk)
        await cache.aset(key, product)
    return HttpResponse(product.name)


urlpatterns = [
    path("distcache/<int:pk>/", distcache),
    path("rediscache/<int:pk>/", rediscache),
]
