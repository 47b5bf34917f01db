"""Staff pages of the rating runs and on-site assessments (issue 17 §3), under /credit/ (namespace "credit")."""

from django.urls import path

from . import views_runs

urlpatterns = [
    path("runs/", views_runs.run_list, name="runs"),
    path("runs/start/", views_runs.run_start, name="run_start"),
    path("runs/<int:run_id>/", views_runs.run_detail, name="run_detail"),
    path("customers/<int:customer_id>/rate/", views_runs.customer_rate, name="customer_rate"),
    path("assessments/", views_runs.assessment_list, name="assessments"),
    path("assessments/new/", views_runs.assessment_new, name="assessment_new"),
    path("assessments/<int:assessment_id>/review/", views_runs.assessment_review, name="assessment_review"),
]
