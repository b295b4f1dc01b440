"""Views cached with cache_view, for tests/test_views.py."""

import os
import time

import redis
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from django_distcache.views import cache_view
from tests.testapp.models import Product

PAGE = engines["django"].from_string(
    "<ul>{% for p in products %}<li>{{ p.name }} {{ p.price }}</li>{% endfor %}</ul>"
)
RENDERS = "dctest-view-renders"


def count_render() -> None:
    """One more render, counted in Redis so that every process's renders add up."""
    client = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_DB}")
    client.incr(RENDERS)
    client.close()


@cache_view(depends_on=[Product], tags=["catalogue"])
def product_list(request: HttpRequest) -> HttpResponse:
    count_render()
    time.sleep(float(os.environ.get("DISTCACHE_TEST_RENDER_SECONDS", "0")))
    products = Product.objects.order_by("name")
    if "q" in request.GET:
        products = products.filter(name__icontains=request.GET["q"])
    return HttpResponse(PAGE.render({"products": products}))


@cache_view(depends_on=["testapp.Product"])
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    count_render()
    try:
        product = Product.objects.get(pk=pk)
    except Product.DoesNotExist:
        raise Http404("no such product") from None
    return HttpResponse(product.name)


@cache_view(depends_on=[Product])
def with_cookie(request: HttpRequest) -> HttpResponse:
    count_render()
    response = HttpResponse("set a cookie")
    response.set_cookie("seen", "1")
    return response


@cache_view(depends_on=[Product])
def unavailable(request: HttpRequest) -> HttpResponse:
    count_render()
    return HttpResponse("try again later", status=503)


@cache_view(depends_on=[Product])
def private(request: HttpRequest) -> HttpResponse:
    count_render()
    response = HttpResponse("yours only")
    response["Cache-Control"] = "private, max-age=60"
    return response


@cache_view(depends_on=[Product], vary_on_headers=["Accept-Language"], per_user=True)
def greeting(request: HttpRequest) -> HttpResponse:
    count_render()
    who = request.user.username if request.user.is_authenticated else "guest"
    return HttpResponse(f"{request.headers.get('Accept-Language', '-')} {who}")


urlpatterns = [
    path("products/", product_list),
    path("products/<int:pk>/", product_detail),
    path("cookie/", with_cookie),
    path("greeting/", greeting),
    path("unavailable/", unavailable),
    path("private/", private),
]
