"""Evaluation devices, staff performance and rating follow-ups (issue 16 §6); included by hall/urls.py."""

from django.urls import path

from . import views_ratings as v

urlpatterns: list = [
    path("d/<str:key>/evaluate/", v.evaluate, name="evaluate"),
    path("performance/", v.performance_page, name="performance"),
    path("performance.xlsx", v.performance_page, {"fmt": "xlsx"}, name="performance_xlsx"),
    path("follow-ups/", v.follow_ups_page, name="follow_ups"),
    path("follow-ups/<int:pk>/close/", v.follow_up_close, name="follow_up_close"),
]
