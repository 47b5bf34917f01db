"""Staff and hall-device pages of the smart service hall (/hall/), one url module per part."""

from django.urls import include, path

app_name = "hall"
urlpatterns = [
    path("", include("gridcare.hall.urls_queue")),
    path("", include("gridcare.hall.urls_appointments")),
    path("", include("gridcare.hall.urls_ratings")),
    path("", include("gridcare.hall.urls_terminals")),
    path("", include("gridcare.hall.urls_reports")),
]
