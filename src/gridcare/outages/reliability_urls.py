"""Reliability pages, mounted at /reliability/."""

from django.urls import path

from . import report_views as v

app_name = "reliability"
urlpatterns = [
    path("", v.report, name="report"),
    path("frequent/", v.frequent_page, name="frequent"),
    path("frequent/<int:case_id>/", v.frequent_case_update, name="frequent_update"),
    path("trips/", v.trips_page, name="trips"),
    path("trips/actions/", v.trip_action_create, name="trip_action_create"),
    path("trips/actions/<int:action_id>/", v.trip_action_update, name="trip_action_update"),
    path("voltage/", v.voltage_page, name="voltage"),
    path("targets/", v.targets_page, name="targets"),
    path("review/", v.review_page, name="review"),
    path("review.xlsx", v.review_page, {"fmt": "xlsx"}, name="review_xlsx"),
    path("review.pdf", v.review_page, {"fmt": "pdf"}, name="review_pdf"),
]
