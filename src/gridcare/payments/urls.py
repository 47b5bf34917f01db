from django.urls import path

from . import (
    public_views,
    sandbox,
    views,
    views_batch,
    views_collections,
    views_counter,
    views_ledger,
    views_prepaid,
    views_reports,
)

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
    path("withholding/", views_batch.withholding_batches, name="withholding"),
    path("withholding/agreements/", views_batch.withholding_agreements, name="withholding_agreements"),
    path("withholding/<str:batch_no>/", views_batch.withholding_batch, name="withholding_batch"),
    path("withholding/<str:batch_no>/file/", views_batch.withholding_file, name="withholding_file"),
    path("reconcile/", views_batch.reconcile_list, name="reconcile"),
    path("reconcile/<int:pk>/", views_batch.reconcile_detail, name="reconcile_detail"),
    path("reconcile/exceptions/<int:pk>/", views_batch.reconcile_resolve, name="reconcile_resolve"),
    path("prepaid/", views_prepaid.prepaid_list, name="prepaid_list"),
    path("prepaid/enrol/", views_prepaid.prepaid_enrol, name="prepaid_enrol"),
    path("prepaid/<str:account_number>/", views_prepaid.prepaid_detail, name="prepaid_detail"),
    path("prepaid/<str:account_number>/unenrol/", views_prepaid.prepaid_unenrol, name="prepaid_unenrol"),
    path("shifts/", views_counter.shift_list, name="shift_list"),
    path("shifts/open/", views_counter.shift_open, name="shift_open"),
    path("shifts/<int:pk>/close/", views_counter.shift_close, name="shift_close"),
    path("shifts/daily/", views_counter.shift_daily, name="shift_daily"),
    path("refunds/", views_counter.refund_list, name="refund_list"),
    path("refunds/new/", views_counter.refund_new, name="refund_new"),
    path("refunds/<int:pk>/decide/", views_counter.refund_decide, name="refund_decide"),
    path("collections/", views_collections.task_list, name="collections_tasks"),
    path(
        "collections/tasks/<int:pk>/<str:action>/",
        views_collections.task_action,
        name="collections_task_action",
    ),
    path(
        "collections/accounts/<str:account_number>/",
        views_collections.account_timeline,
        name="collections_account",
    ),
    path(
        "collections/accounts/<str:account_number>/protect/",
        views_collections.account_protect,
        name="collections_protect",
    ),
    # The local sandbox gateway (模拟支付网关): 404 unless GRIDCARE["SANDBOX_PAY"]["ENABLED"].
    # Orders started without logging in are opened by the secret in their link (public_pay).
    path("sandbox/public/<str:token>/", public_views.sandbox_checkout, name="public_sandbox"),
    path("sandbox/public/<str:token>/confirm/", public_views.sandbox_confirm, name="public_sandbox_confirm"),
    path("sandbox/public/<str:token>/cancel/", public_views.sandbox_cancel, name="public_sandbox_cancel"),
    path("sandbox/<str:order_no>/", sandbox.checkout, name="sandbox"),
    path("sandbox/<str:order_no>/confirm/", sandbox.confirm, name="sandbox_confirm"),
    path("sandbox/<str:order_no>/cancel/", sandbox.cancel, name="sandbox_cancel"),
]
