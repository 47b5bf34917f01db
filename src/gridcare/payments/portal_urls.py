"""Portal online payment, mounted at /portal/pay/ (the sandbox gateway itself lives under /payments/)."""

from django.urls import path

from . import portal_views

app_name = "payments_portal"
urlpatterns = [
    path("receipt/<str:order_no>/", portal_views.receipt, name="receipt"),
    path("<str:account_number>/", portal_views.pay, name="pay"),
]
