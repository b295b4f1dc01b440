"""Pages served through the cache: each shows one way of using django-distcache."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

import django_distcache
from django_distcache import cache_view
from shop.distcache import catalogue_page, review_summary, shop_figures
from shop.models import Category, Product, Review

RELATED = 4


def home(request: HttpRequest) -> HttpResponse:
    """get_or_set: figures of the whole shop, recomputed after any change to them."""
    return render(request, "shop/home.html", {"figures": shop_figures()})


@cache_view(timeout=300, depends_on=[Product, Category, "shop.Tag"], tags=["catalogue"])
def category(request: HttpRequest, slug: str) -> HttpResponse:
    """cache_view: the whole page, until a product, category or tag changes."""
    current = get_object_or_404(Category, slug=slug)
    rows = catalogue_page(current.pk)  # a @cached function underneath
    return render(request, "shop/category.html", {"category": current, "rows": rows})


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """get_object / get_objects, write-behind view counts and a {% distcache %} fragment."""
    try:
        product = django_distcache.get_object(Product, pk)
    except Product.DoesNotExist:
        raise Http404("No such product") from None
    # one Redis round trip; flushed to the database by a Celery worker, coalesced
    django_distcache.write_behind_incr(Product, pk, "views")
    category = django_distcache.get_object(Category, product.category_id)
    neighbours = [pk + step for step in range(1, RELATED + 1)]
    related = [
        p
        for p in django_distcache.get_objects(Product, neighbours).values()
        if p.category_id == product.category_id
    ]
    context = {
        "product": product,
        "category": category,
        "related": related,
        "summary": review_summary(pk),
        # evaluated only when the fragment misses
        "reviews": lambda: list(Review.objects.filter(product_id=pk)[:5]),
    }
    return render(request, "shop/product.html", context)
