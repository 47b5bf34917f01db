from django.urls import path

from . import sandbox, views

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
