"""Staff pages of customer credit rating (/credit/), one url module per part."""

from django.urls import include, path

app_name = "credit"
urlpatterns = [
    path("", include("gridcare.credit.urls_register")),
    path("", include("gridcare.credit.urls_inspections")),
    path("", include("gridcare.credit.urls_runs")),
    path("", include("gridcare.credit.urls_reports")),
]
