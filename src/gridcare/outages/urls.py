"""Console routes of outages, mounted at /outages/ (the public notice page is `public_urls`)."""

from django.urls import path

from . import views

app_name = "outages"
urlpatterns = [
    path("", views.outage_list, name="list"),
    path("new/", views.outage_new, name="new"),
    path("<str:number>/", views.outage_detail, name="detail"),
    path("<str:number>/<str:action>/", views.outage_action, name="action"),
]
