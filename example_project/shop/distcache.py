"""What the shop caches; found at start-up like admin.py."""

import django_distcache
from shop.models import Category, Product, Review, Tag

# Products by primary key; a category rename invalidates the cached products too.
# Page views are counted with write-behind: Redis now, the database in batches.
django_distcache.register(Product, timeout=600, depends_on=[Category], write_behind=True)
django_distcache.register(Tag)


@django_distcache.warmer("catalogue")
def catalogue():
    """Every product, so the first visitors after a deploy hit a warm cache."""
    return Product.objects.order_by("pk")


@django_distcache.cached(timeout=300, depends_on=[Product, Category, Tag], tags=["catalogue"])
def catalogue_page(category_id: int | None = None) -> list[dict]:
    """The catalogue rows of one category (or all): one query on a miss, none on a hit."""
    products = Product.objects.select_related("category").prefetch_related("tags")
    if category_id is not None:
        products = products.filter(category_id=category_id)
    return [
        {
            "id": p.pk,
            "name": p.name,
            "price": p.price,
            "category": p.category.name,
            "tags": sorted(t.name for t in p.tags.all()),
        }
        for p in products.order_by("name")
    ]


@django_distcache.cached(timeout=600, depends_on=[Review])
def review_summary(product_id: int) -> dict:
    """Average rating and count of a product's reviews."""
    ratings = list(Review.objects.filter(product_id=product_id).values_list("rating", flat=True))
    average = round(sum(ratings) / len(ratings), 1) if ratings else None
    return {"count": len(ratings), "average": average}


def shop_figures() -> dict:
    """The home page's figures, through get_or_set (a key of the application's choosing)."""
    return django_distcache.get_or_set(
        "shop:figures",
        lambda: {
            "categories": list(Category.objects.order_by("name").values("id", "name", "slug")),
            "products": Product.objects.count(),
            "reviews": Review.objects.count(),
        },
        timeout=120,
        depends_on=[Category, Product, Review],
    )
