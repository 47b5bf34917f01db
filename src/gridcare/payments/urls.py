from django.urls import path

from . import sandbox, views, views_counter

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
    path("shifts/", views_counter.shift_list, name="shift_list"),
    path("shifts/open/", views_counter.shift_open, name="shift_open"),
    path("shifts/<int:pk>/close/", views_counter.shift_close, name="shift_close"),
    path("shifts/daily/", views_counter.shift_daily, name="shift_daily"),
    path("refunds/", views_counter.refund_list, name="refund_list"),
    path("refunds/new/", views_counter.refund_new, name="refund_new"),
    path("refunds/<int:pk>/decide/", views_counter.refund_decide, name="refund_decide"),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
