"""Pages served through the cache."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

import django_distcache
from shop.distcache import catalogue_page
from shop.models import Category, Product


def catalogue(request: HttpRequest) -> HttpResponse:
    category_id = request.GET.get("category")
    rows = catalogue_page(int(category_id) if category_id and category_id.isdigit() else None)
    return render(request, "shop/catalogue.html", {"rows": rows})


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        product = django_distcache.get_object(Product, pk)
    except Product.DoesNotExist:
        raise Http404("No such product") from None
    # one Redis round trip; flushed to the database by a Celery worker, coalesced
    django_distcache.write_behind_incr(Product, pk, "views")
    category = django_distcache.get_object(Category, product.category_id)
    return render(request, "shop/product.html", {"product": product, "category": category})
