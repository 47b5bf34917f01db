"""Staff and kiosk pages of the hall appointments (namespace hall)."""

from django.urls import path

from . import views_appointments as views

urlpatterns = [
    path("<int:hall_id>/appointments/", views.appointments_page, name="appointments"),
    path("<int:hall_id>/appointments/check-in/", views.appointment_checkin, name="appointment_checkin"),
    path("<int:hall_id>/appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment_cancel"),
    path("d/<str:key>/kiosk/checkin/", views.kiosk_appointment_checkin, name="kiosk_appointment_checkin"),
]
