"""Portal online payment, mounted at /portal/pay/ (the sandbox gateway itself lives under /payments/)."""

from django.urls import path

from .channels.views import portal as portal_views
from .channels.views import public as public_views

app_name = "payments_portal"
urlpatterns = [
    path("receipt/<str:order_no>/", portal_views.receipt, name="receipt"),
    # The receipt of an order paid without logging in, opened by the secret in its link (public_pay).
    path("public/<str:token>/receipt/", public_views.receipt, name="public_receipt"),
    path("<str:account_number>/", portal_views.pay, name="pay"),
]
