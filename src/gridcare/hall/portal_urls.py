"""Portal pages of the hall (/portal/hall/): remote tickets and appointments."""

from django.urls import include, path

app_name = "portal_hall"
urlpatterns = [
    path("", include("gridcare.hall.portal_urls_queue")),
    path("", include("gridcare.hall.portal_urls_appointments")),
]
