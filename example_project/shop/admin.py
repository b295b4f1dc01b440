from django.contrib import admin

from shop.models import Category, Product, Review, Tag

admin.site.register(Tag)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "price", "stock", "views")
    list_filter = ("category",)
    search_fields = ("name",)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("product", "rating", "author", "created_at")
    list_select_related = ("product",)
    raw_id_fields = ("product",)
