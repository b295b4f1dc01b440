from django.contrib import admin
from django.urls import path
from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("category/<slug:slug>/", views.category, name="category"),
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
    path("admin/", admin.site.urls),
]
