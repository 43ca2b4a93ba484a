"""The electronic archive's pages, included by sidms.web.urls under archives/ (namespace web:archives)."""

from django.urls import path

from sidms.web.archives import views

app_name = "archives"
urlpatterns = [
    path("review/", views.review_queue_page, name="review"),
    path("retention/", views.retention_page, name="retention"),
    path("items/<int:item_id>/review/", views.review_item, name="review_item"),
    path("items/<int:item_id>/view/", views.item_file, {"action": "view"}, name="view"),
    path("items/<int:item_id>/download/", views.item_file, {"action": "download"}, name="download"),
    path("items/<int:item_id>/thumbnail.png", views.item_thumbnail, name="thumbnail"),
    path("<slug:kind>/<int:pk>/", views.catalogue_page, name="catalogue"),
]
