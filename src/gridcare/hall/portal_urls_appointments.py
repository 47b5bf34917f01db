"""Portal pages of the hall appointments, under /portal/hall/appointments/ (namespace portal_hall)."""

from django.urls import path

from . import portal_views_appointments as views

urlpatterns = [
    path("appointments/", views.appointments_page, name="appointments"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment_cancel"),
]
