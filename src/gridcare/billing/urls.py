from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("quote/", views.quote, name="quote"),
    path("tariffs/", views.tariffs, name="tariffs"),
    path("tariffs/<str:code>/versions/new/", views.version_create, name="version_create"),
]
