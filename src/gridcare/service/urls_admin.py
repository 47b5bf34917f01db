"""Staff pages of the working-day calendar and the time-limit policies (issue 15 §3–4); included by
service/urls.py (namespace "service")."""

from django.urls import path

from . import views_admin

urlpatterns = [
    path("calendar/", views_admin.calendar_list, name="calendar"),
    path("calendar/<int:year>/", views_admin.calendar_year, name="calendar_year"),
    path("policies/", views_admin.policies, name="policies"),
]
