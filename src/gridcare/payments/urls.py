from django.urls import path

from . import sandbox, views, views_ledger, views_reports

app_name = "payments"
urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("<int:pk>/receipt/", views.receipt, name="receipt"),
    path("reports/", views_reports.reports_page, name="reports"),
    path("reports/<slug:report>/export.xlsx", views_reports.report_export, name="report_export"),
    path("accounts/<str:account_number>/ledger/", views_ledger.ledger, name="ledger"),
    path("<int:pk>/reverse/", views_ledger.payment_reverse, name="payment_reverse"),
    path("receivables/<int:pk>/waiver/", views_ledger.waiver_request, name="waiver_request"),
    path("waivers/", views_ledger.waiver_queue, name="waivers"),
    path("waivers/<int:pk>/decide/", views_ledger.waiver_decide, name="waiver_decide"),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
