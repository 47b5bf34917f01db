from django.urls import path

from . import sandbox, views, views_prepaid

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
    path("prepaid/", views_prepaid.prepaid_list, name="prepaid_list"),
    path("prepaid/enrol/", views_prepaid.prepaid_enrol, name="prepaid_enrol"),
    path("prepaid/<str:account_number>/", views_prepaid.prepaid_detail, name="prepaid_detail"),
    path("prepaid/<str:account_number>/unenrol/", views_prepaid.prepaid_unenrol, name="prepaid_unenrol"),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
