"""Credit report pages and the policy page (issue 17 §4–5), included by credit/urls.py under /credit/."""

from django.urls import path

from . import views_policy
from . import views_reports as v

urlpatterns: list = [
    path("reports/grades/", v.grades_page, name="report_grades"),
    path("reports/grades.xlsx", v.grades_page, {"fmt": "xlsx"}, name="report_grades_xlsx"),
    path("reports/movers/", v.movers_page, name="report_movers"),
    path("reports/movers.xlsx", v.movers_page, {"fmt": "xlsx"}, name="report_movers_xlsx"),
    path("reports/d-list/", v.d_list_page, name="report_d_list"),
    path("reports/d-list.xlsx", v.d_list_page, {"fmt": "xlsx"}, name="report_d_list_xlsx"),
    path("policy/", views_policy.policy_page, name="policy"),
]
