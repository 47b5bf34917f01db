"""Public pages of the 95598 service, under /service/public/ (no login): the fault-report form (issue 15 §5)."""

from django.urls import path

from . import public_views

app_name = "service_public"
urlpatterns = [
    path("fault/", public_views.fault, name="fault"),
    path("fault/done/", public_views.fault_done, name="fault_done"),
]
