"""The local sandbox payment gateway (模拟支付网关（测试环境）): a page that plays the payment provider so the
portal's online payment works end to end offline.

Confirm → the sandbox does what Alipay does when the customer has paid: it signs an asynchronous
notification (RSA2 over the sorted parameters, `signatures.alipay_sign`) with the SANDBOX private key and
delivers it to `gateways.sandbox_notification`, which verifies it with the SANDBOX public key exactly as
Alipay's are verified and pays the order on channel portal. The notification is delivered in-process (no
HTTP round trip, so it works under a single-threaded development server); then the browser goes to the
portal receipt, as Alipay's synchronous return does. Cancel → back to the portal pay page, nothing written.

Only the customer who started the order sees it; the sandbox answers 404 when it is disabled
(``GRIDCARE["SANDBOX_PAY"]["ENABLED"]``, off by default in production) and refuses orders that are not
waiting for payment.
"""

import secrets
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gridcare.core.clientip import client_ip
from gridcare.core.masking import mask_customer_name
from gridcare.core.views import customer_required
from gridcare.payments.channels import gateways, signatures
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.models import PaymentOrder

MERCHANT = "GridCare 电费缴费"


def notification_for(order: PaymentOrder, *, now: datetime | None = None) -> dict[str, str]:
    """The asynchronous notification the sandbox sends once `order` is paid, signed as Alipay signs."""
    paid = timezone.localtime(now or timezone.now(), gateways.BEIJING)
    params = {
        "app_id": gateways.SANDBOX_APP_ID,
        "out_trade_no": order.order_no,
        "trade_no": f"SB{paid:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}",
        "total_amount": f"{order.amount}",
        "trade_status": "TRADE_SUCCESS",
        "gmt_payment": f"{paid:%Y-%m-%d %H:%M:%S}",
        "sign_type": signatures.ALIPAY_SIGN_TYPE,
        "charset": "utf-8",
    }
    params["sign"] = signatures.alipay_sign(params, gateways.sandbox_keys()[0])
    return params


def sandbox_required(view):
    """404 for everyone while the sandbox is disabled; then the portal's customer check."""
    guarded = customer_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not gateways.sandbox_enabled():
            raise Http404
        return guarded(request, *args, **kwargs)

    return wrapped


def _order(request, order_no: str) -> PaymentOrder:
    order = (
        PaymentOrder.objects.select_related("account__customer", "account__unit")
        .filter(
            order_no=(order_no or "").strip()[:32],
            channel=PaymentChannel.PORTAL,
            created_by=request.user,
            public_token_hash__isnull=True,  # an order paid without logging in opens only by its link
        )
        .first()
    )
    if order is None:
        raise Http404
    return order


def page(
    request,
    order: PaymentOrder,
    *,
    error: str | None = None,
    status: int = 200,
    urls: dict[str, str] | None = None,
):
    """The gateway page of `order`; `urls` (confirm, cancel, back) default to the portal order's."""
    if urls is None:
        urls = {
            "confirm": reverse("payments:sandbox_confirm", args=[order.order_no]),
            "cancel": reverse("payments:sandbox_cancel", args=[order.order_no]),
            "back": reverse("payments_portal:pay", args=[order.account.account_number]),
        }
    return render(
        request,
        "payments/sandbox.html",
        {
            "order": order,
            "merchant": f"{MERCHANT}（{order.account.unit.name}）",
            "subject": _("电费 户号%(n)s %(name)s")
            % {
                "n": order.account.account_number,
                "name": mask_customer_name(order.account.customer.name, order.account.customer.kind),
            },
            "error": error,
            "payable": order.status == gateways.ORDER_CREATED and error is None,
            "urls": urls,
        },
        status=status,
    )


def _not_payable(request, order: PaymentOrder):
    """An order that is not waiting for payment: a paid one shows its receipt (a double click or the back
    button lands here), a closed one is refused."""
    if order.status == gateways.ORDER_PAID:
        messages.info(request, _("该订单已支付，无需重复支付"))
        return redirect("payments_portal:receipt", order.order_no)
    return page(request, order, error=_("订单已关闭，不能支付"), status=409)


@sandbox_required
@require_GET
def checkout(request, order_no: str):
    order = _order(request, order_no)
    if order.status != gateways.ORDER_CREATED:
        return _not_payable(request, order)
    return page(request, order)


@sandbox_required
@require_POST
def confirm(request, order_no: str):
    order = _order(request, order_no)
    if order.status != gateways.ORDER_CREATED:
        return _not_payable(request, order)
    answer = gateways.sandbox_notification(notification_for(order), ip=client_ip(request))
    order.refresh_from_db()
    if answer == gateways.ALIPAY_SUCCESS and order.status == gateways.ORDER_PAID:
        messages.success(request, _("支付成功"))
        return redirect("payments_portal:receipt", order.order_no)
    if order.status != gateways.ORDER_CREATED:  # a simultaneous confirm of the same order won
        return _not_payable(request, order)
    return page(request, order, error=_("支付结果通知未通过验证，本次支付未入账"), status=502)


@sandbox_required
@require_POST
def cancel(request, order_no: str):
    order = _order(request, order_no)
    if order.status != gateways.ORDER_CREATED:
        return _not_payable(request, order)
    messages.info(request, _("您已取消支付，未扣款"))
    return redirect("payments_portal:pay", order.account.account_number)
