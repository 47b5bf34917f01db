"""Pages of the credit-event register (issue 17 §1), under /credit/ (namespace credit)."""

from django.urls import path

from . import views_register as views

urlpatterns = [
    path("events/", views.events, name="events"),
    path("events/new/", views.event_new, name="event_new"),
    path("events/<int:pk>/", views.event, name="event"),
    path("events/<int:pk>/evidence/", views.event_evidence, name="event_evidence"),
    path("events/<int:pk>/contest/", views.event_contest, name="event_contest"),
    path("events/<int:pk>/<str:action>/", views.event_action, name="event_action"),
    path("contests/", views.contests, name="contests"),
    path("contests/<int:pk>/decide/", views.contest_decide, name="contest_decide"),
    path("evidence/<int:pk>/", views.evidence, name="evidence"),
]
