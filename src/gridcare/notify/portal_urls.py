"""Portal: a bound customer's own notice preferences, mounted at /portal/notify/."""

from django.urls import path

from . import views

app_name = "notify_portal"
urlpatterns = [
    path("<str:account_number>/", views.portal_preferences, name="preferences"),
]
