"""Service reports (issue 15 §9): the page and its Excel workbook; included by service/urls.py."""

from django.urls import path

from . import views_reports as v

urlpatterns: list = [
    path("reports/", v.reports_page, name="reports"),
    path("reports.xlsx", v.reports_page, {"fmt": "xlsx"}, name="reports_xlsx"),
]
