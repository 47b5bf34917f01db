"""Hall reports (issue 16 §8–9): KPIs, peak analysis and the Erlang C staffing plan, each with its Excel
workbook; included by hall/urls.py (/hall/)."""

from django.urls import path

from . import views_reports as v

urlpatterns: list = [
    path("kpis/", v.kpis_page, name="kpis"),
    path("kpis.xlsx", v.kpis_page, {"fmt": "xlsx"}, name="kpis_xlsx"),
    path("peaks/", v.peaks_page, name="peaks"),
    path("peaks.xlsx", v.peaks_page, {"fmt": "xlsx"}, name="peaks_xlsx"),
    path("<int:hall_id>/staffing/", v.staffing_page, name="staffing"),
    path("<int:hall_id>/staffing.xlsx", v.staffing_page, {"fmt": "xlsx"}, name="staffing_xlsx"),
]
