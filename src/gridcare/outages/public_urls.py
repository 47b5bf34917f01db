"""The public outage notices (停电公告), mounted at /outages/public/ before the console routes."""

from django.urls import path

from . import portal_views

app_name = "outages_public"
urlpatterns = [path("", portal_views.public_outages, name="list")]
