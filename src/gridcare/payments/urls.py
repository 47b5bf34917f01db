"""The payments pages, mounted at /payments/ (namespace ``payments``): one table for every sub-package's views,
so every page's address and name reads in one place."""

from django.urls import path

from .channels.views import online as online_views
from .channels.views import public as public_views
from .channels.views import sandbox as sandbox_views
from .channels.views import withholding as withholding_views
from .collections import views as collections_views
from .counter import views as counter_views
from .ledger import views as ledger_views
from .prepaid import views as prepaid_views
from .reconciliation import views as reconciliation_views
from .reports import views as reports_views

app_name = "payments"
urlpatterns = [
    path("counter/", counter_views.counter, name="counter"),
    # Alipay / WeChat Pay QR codes at the counter (issue 13): open an order, show it, follow it until paid.
    path("online/qr/", online_views.counter_qr, name="counter_qr"),
    path("online/<str:order_no>/", online_views.order_qr, name="order_qr"),
    path("online/<str:order_no>/status/", online_views.order_status, name="order_status"),
    path("<int:pk>/receipt/", counter_views.receipt, name="receipt"),
    path("reports/", reports_views.reports_page, name="reports"),
    path("reports/<slug:report>/export.xlsx", reports_views.report_export, name="report_export"),
    path("accounts/<str:account_number>/ledger/", ledger_views.ledger, name="ledger"),
    path("<int:pk>/reverse/", ledger_views.payment_reverse, name="payment_reverse"),
    path("<int:pk>/refund/", ledger_views.payment_refund, name="payment_refund"),
    path("receivables/<int:pk>/waiver/", ledger_views.waiver_request, name="waiver_request"),
    path("waivers/", ledger_views.waiver_queue, name="waivers"),
    path("waivers/<int:pk>/decide/", ledger_views.waiver_decide, name="waiver_decide"),
    path("withholding/", withholding_views.withholding_batches, name="withholding"),
    path("withholding/agreements/", withholding_views.withholding_agreements, name="withholding_agreements"),
    path("withholding/<str:batch_no>/", withholding_views.withholding_batch, name="withholding_batch"),
    path("withholding/<str:batch_no>/file/", withholding_views.withholding_file, name="withholding_file"),
    path("reconcile/", reconciliation_views.reconcile_list, name="reconcile"),
    path("reconcile/<int:pk>/", reconciliation_views.reconcile_detail, name="reconcile_detail"),
    path("reconcile/exceptions/<int:pk>/", reconciliation_views.reconcile_resolve, name="reconcile_resolve"),
    path("prepaid/", prepaid_views.prepaid_list, name="prepaid_list"),
    path("prepaid/enrol/", prepaid_views.prepaid_enrol, name="prepaid_enrol"),
    path("prepaid/<str:account_number>/", prepaid_views.prepaid_detail, name="prepaid_detail"),
    path("prepaid/<str:account_number>/unenrol/", prepaid_views.prepaid_unenrol, name="prepaid_unenrol"),
    path("shifts/", counter_views.shift_list, name="shift_list"),
    path("shifts/open/", counter_views.shift_open, name="shift_open"),
    path("shifts/<int:pk>/close/", counter_views.shift_close, name="shift_close"),
    path("shifts/daily/", counter_views.shift_daily, name="shift_daily"),
    path("refunds/", counter_views.refund_list, name="refund_list"),
    path("refunds/new/", counter_views.refund_new, name="refund_new"),
    path("refunds/<int:pk>/decide/", counter_views.refund_decide, name="refund_decide"),
    path("collections/", collections_views.task_list, name="collections_tasks"),
    path(
        "collections/tasks/<int:pk>/<str:action>/",
        collections_views.task_action,
        name="collections_task_action",
    ),
    path(
        "collections/accounts/<str:account_number>/",
        collections_views.account_timeline,
        name="collections_account",
    ),
    path(
        "collections/accounts/<str:account_number>/protect/",
        collections_views.account_protect,
        name="collections_protect",
    ),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    # Orders started without logging in are opened by the secret in their link (public_pay).
    path("sandbox/public/<str:token>/", public_views.sandbox_checkout, name="public_sandbox"),
    path("sandbox/public/<str:token>/confirm/", public_views.sandbox_confirm, name="public_sandbox_confirm"),
    path("sandbox/public/<str:token>/cancel/", public_views.sandbox_cancel, name="public_sandbox_cancel"),
    path("sandbox/<str:order_no>/", sandbox_views.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox_views.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox_views.cancel, name="sandbox_cancel"),
]
