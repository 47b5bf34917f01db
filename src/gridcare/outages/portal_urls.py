"""The customer's outage lookup, mounted at /portal/outages/."""

from django.urls import path

from . import portal_views

app_name = "outages_portal"
urlpatterns = [path("", portal_views.portal_outages, name="list")]
