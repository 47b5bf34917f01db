"""Pages of paying by 户号 without logging in (`public_pay`): the sandbox gateway for a public order and the
receipt, each opened by the secret in its link. A wrong or missing secret is the same 404; no login is asked
for, and none helps: a public order is reached only through its link.

The sandbox here is the portal's (`sandbox.py`): the same page and the same signed notification, verified
and recorded by `gateways.sandbox_notification` on channel portal. It also refuses an order whose time to pay
has run out, as a real gateway does past the order's time_expire.
"""

from functools import wraps

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gridcare.payments.channels import gateways, public_pay
from gridcare.payments.models import PaymentOrder

from . import online as online_views
from . import sandbox


def _private(response):
    # The link is the key: keep it out of caches, other sites' logs (Referer) and search engines.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # no-referrer would make browsers send Origin: null (CSRF)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _order(token: str) -> PaymentOrder:
    order = public_pay.order_by_token(token)
    if order is None:
        raise Http404
    return order


def _urls(token: str) -> dict[str, str]:
    return {
        "confirm": reverse("payments:public_sandbox_confirm", args=[token]),
        "cancel": reverse("payments:public_sandbox_cancel", args=[token]),
        "back": reverse("portal:query"),
    }


def _sandbox_on(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not gateways.sandbox_enabled():
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _not_payable(request, order: PaymentOrder, token: str):
    """A paid order shows its receipt (the back button, a second click); an expired or closed one is refused."""
    state = public_pay.order_state(order)
    if state == public_pay.PAID:
        messages.info(request, _("该订单已支付，无需重复支付"))
        return redirect("payments_portal:public_receipt", token)
    error = _("订单已超时关闭，请重新查询缴费") if state == public_pay.EXPIRED else _("订单已关闭，不能支付")
    return _private(sandbox.page(request, order, error=error, status=409, urls=_urls(token)))


@_sandbox_on
@require_GET
def sandbox_checkout(request, token: str):
    order = _order(token)
    if public_pay.order_state(order) != public_pay.PENDING:
        return _not_payable(request, order, token)
    return _private(sandbox.page(request, order, urls=_urls(token)))


@_sandbox_on
@require_POST
def sandbox_confirm(request, token: str):
    order = _order(token)
    if public_pay.order_state(order) != public_pay.PENDING:
        return _not_payable(request, order, token)
    answer = gateways.sandbox_notification(
        sandbox.notification_for(order), ip=request.META.get("REMOTE_ADDR")
    )
    order.refresh_from_db()
    if answer == gateways.ALIPAY_SUCCESS and order.status == gateways.ORDER_PAID:
        messages.success(request, _("支付成功"))
        return redirect("payments_portal:public_receipt", token)
    if order.status != gateways.ORDER_CREATED:  # a simultaneous confirm of the same order won
        return _not_payable(request, order, token)
    return _private(
        sandbox.page(
            request,
            order,
            error=_("支付结果通知未通过验证，本次支付未入账"),
            status=502,
            urls=_urls(token),
        )
    )


@_sandbox_on
@require_POST
def sandbox_cancel(request, token: str):
    order = _order(token)
    if public_pay.order_state(order) != public_pay.PENDING:
        return _not_payable(request, order, token)
    messages.info(request, _("您已取消支付，未扣款"))
    return redirect("portal:query")


@require_GET
def receipt(request, token: str):
    """The payer's receipt: masked fields only; "支付处理中" until the notification has paid the order."""
    order = _order(token)
    return _private(
        render(
            request,
            "payments/public_receipt.html",
            {"r": public_pay.receipt(order, timezone.now())},
        )
    )


@require_GET
def status(request, token: str):
    """The fragment the public QR page polls (a real channel's order): waiting, paid, closed."""
    order = online_views.settle_if_due(_order(token))
    return _private(
        online_views.status_fragment(
            request,
            order,
            status_url=request.path,
            done_url=reverse("payments_portal:public_receipt", args=[token]),
        )
    )
