"""Async views reading through the async API, served by uvicorn in tests/test_async_asgi.py."""

from __future__ import annotations

import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.backends.signals import connection_created
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

import django_distcache
from tests.testapp.models import Category

_selects = {"testapp_category": 0}
_lock = threading.Lock()


def _count_selects(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    if sql.lstrip().upper().startswith("SELECT") and "testapp_category" in sql:
        with _lock:
            _selects["testapp_category"] += 1
    return execute(sql, params, many, context)


def count_selects(connection: Any, **kwargs: Any) -> None:
    """Count this process's SELECTs of categories, on every connection (any thread)."""
    connection.execute_wrappers.append(_count_selects)


def install_counter() -> None:
    connection_created.connect(count_selects, dispatch_uid="tests.async_views.count_selects")


@django_distcache.cached(depends_on=[Category])
async def names_starting(prefix: str) -> list[str]:
    return [c.name async for c in Category.objects.filter(name__startswith=prefix).order_by("pk")]


async def category(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        found = await django_distcache.aget_object(Category, pk)
    except Category.DoesNotExist:
        raise Http404("no such category") from None
    return JsonResponse({"pk": found.pk, "name": found.name})


async def categories(request: HttpRequest) -> HttpResponse:
    pks = [int(pk) for pk in request.GET["pks"].split(",")]
    found = await django_distcache.aget_objects(Category, pks)
    return JsonResponse({str(pk): obj.name for pk, obj in found.items()})


async def names(request: HttpRequest, prefix: str) -> HttpResponse:
    return JsonResponse({"names": await names_starting(prefix)})


def _rename(pk: int, name: str) -> None:
    with transaction.atomic():
        row = Category.objects.select_for_update().get(pk=pk)
        row.name = name
        row.save()


@csrf_exempt
async def rename(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Save a new name; answers after the commit (and its invalidation)."""
    await sync_to_async(_rename)(pk, name)
    return HttpResponse("saved")


async def selects(request: HttpRequest) -> HttpResponse:
    return JsonResponse(_selects)


urlpatterns = [
    path("category/<int:pk>/", category),
    path("categories/", categories),
    path("names/<str:prefix>/", names),
    path("rename/<int:pk>/<str:name>/", rename),
    path("selects/", selects),
]
