from django.contrib import admin

from shop.models import Category, Product, Tag

admin.site.register(Category)
admin.site.register(Tag)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "price", "stock")
    list_filter = ("category",)
