"""Pages of paying through the real channels (issue 13): what every surface shares.

- `scene_for`: how this browser pays — Alipay: 手机网站支付 (wap) on a phone, 电脑网站支付 (page) on a computer;
  WeChat: JSAPI inside WeChat, H5 in a phone browser, Native (a QR code) on a computer.
- `respond`: what the browser does with a placed order — goes to the channel's cashier (wap, page, h5), sees a
  QR code (counter display, terminal, a computer), or calls `wx.requestPayment` (JSAPI; with the simulator, its
  stand-in page). A channel down: the page again with "please try again", the order still payable.
- the counter's QR (`counter_qr`, `order_qr`, `order_status`): a staff member opens an order for the account and
  the customer scans it on the customer display; the page follows the order until it is paid.
- WeChat OAuth (snsapi_base) for JSAPI: `wechat_oauth_start` → WeChat → `wechat_oauth_back`, which exchanges
  the code for the payer's openid (kept in the session) and goes back to the pay page.
"""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import urlencode, urlsplit

import segno
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from gridcare.core.audit import Actor
from gridcare.core.middleware import csp_header_name, csp_with_form_action
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404, restrict
from gridcare.core.views import customer_required, staff_required
from gridcare.customers.models import Account
from gridcare.payments.channels import online
from gridcare.payments.channels.providers import base, http
from gridcare.payments.choices import OrderStatus, PaymentChannel
from gridcare.payments.models import PaymentOrder

logger = logging.getLogger("gridcare.payments")
OPENID_SESSION_KEY = "wechat_openid"
OAUTH_STATE_KEY = "wechat_oauth_state"
MOBILE_MARKS = ("Mobile", "Android", "iPhone", "iPad")


def device(request) -> str:
    ua = request.META.get("HTTP_USER_AGENT", "")
    if "MicroMessenger" in ua:
        return "wechat"
    return "mobile" if any(m in ua for m in MOBILE_MARKS) else "desktop"


def scene_for(channel: str, request) -> str:
    d = device(request)
    if channel == PaymentChannel.ALIPAY:
        return base.WAP if d in ("mobile", "wechat") else base.PAGE
    if d == "wechat":
        return base.JSAPI
    return base.H5 if d == "mobile" else base.QR


def wallets() -> list[tuple[str, str]]:
    """(channel, label) of the real channels configured here."""
    return [(c, str(PaymentChannel(c).label)) for c in online.REAL_CHANNELS if online.enabled(c)]


def origin(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


WECHAT_H5_ORIGIN = "https://wx.tenpay.com"  # where WeChat Pay's h5_url sends the payer


def _origin_of(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def cashier_origins() -> list[str]:
    """The sites a pay form's answer may redirect the browser to: Alipay's gateway (wap/page pay), WeChat's H5
    cashier and its OAuth page (JSAPI), of the channels configured here (the simulator's when it stands in)."""
    origins = []
    if online.enabled(PaymentChannel.ALIPAY):
        origins.append(_origin_of(settings.GRIDCARE["ALIPAY"].get("GATEWAY_URL", "")))
    if online.enabled(PaymentChannel.WECHAT):
        conf = settings.GRIDCARE["WECHAT"]
        origins += [
            WECHAT_H5_ORIGIN,
            _origin_of(conf.get("BASE_URL", "")),
            _origin_of(conf.get("OAUTH_URL", "")),
        ]
    return [o for o in origins if o]


def allow_cashiers(response: HttpResponse) -> HttpResponse:
    """The page's Content-Security-Policy with the channels' cashiers in form-action: its form is answered with a
    redirect there, which the browser blocks under form-action 'self'."""
    origins = cashier_origins()
    if origins and settings.CONTENT_SECURITY_POLICY:
        response.headers[csp_header_name()] = csp_with_form_action(origins)
    return response


def qr_svg(content: str) -> str:
    """The QR code of `content` as inline SVG (no external service sees the order)."""
    return segno.make(content, error="m").svg_inline(scale=6, border=2, dark="#111")


def qr_page(
    request,
    order: PaymentOrder,
    *,
    status_url: str,
    done_url: str,
    standalone: bool = False,
    status=200,
    portal: bool = False,
):
    return render(
        request,
        "payments/pay_qr.html",
        {
            "order": order,
            "svg": qr_svg(order.pay_url) if order.pay_url else "",
            "status_url": status_url,
            "done_url": done_url,
            "standalone": standalone,
            "base_template": "payments/pay_display.html"
            if standalone
            else ("portal/base.html" if portal else "base.html"),
        },
        status=status,
    )


def jsapi_page(request, order: PaymentOrder, params: dict[str, str], *, done_url: str):
    sim = settings.GRIDCARE.get("PAY", {}).get("SIMULATOR_URL", "")
    sim_url = f"{sim.rstrip('/')}/wechat/jsapi?{urlencode({**params, 'return': done_url})}" if sim else ""
    return render(
        request,
        "payments/pay_jsapi.html",
        {
            "order": order,
            "params_json": json.dumps(params),
            "params": params,
            "sim_url": sim_url,
            "done_url": done_url,
        },
    )


def respond(request, placed: online.Placed, *, status_url: str, done_url: str, portal: bool = True):
    """Where the browser goes for a placed order; None when there is no placement (the caller shows the error)."""
    p = placed.placement
    if p is None:
        return None
    if p.scene in (base.WAP, base.PAGE, base.H5):
        return redirect(p.url)
    if p.scene == base.JSAPI:
        return jsapi_page(request, placed.order, p.jsapi, done_url=done_url)
    return qr_page(request, placed.order, status_url=status_url, done_url=done_url, portal=portal)


settle_if_due = online.settle_if_due  # the pages follow an order by asking the channel


# ---------------------------------------------------------------- the counter's QR code


def _staff_orders(user):
    return restrict(
        PaymentOrder.objects.select_related("account__customer", "account__unit", "payment"),
        user,
        Perm.PAYMENT_RECORD,
        unit_field="account__unit_id",
    )


@require_POST
@staff_required(Perm.PAYMENT_RECORD)
def counter_qr(request):
    """Open an order for the account's payment by Alipay or WeChat Pay, shown as a QR code for the customer."""
    number = (request.POST.get("account_number") or "").strip()[:20]
    account = get_or_404(
        restrict(Account.objects.all(), request.user, Perm.PAYMENT_RECORD), account_number=number
    )
    back = f"{reverse('payments:counter')}?{urlencode({'account_number': account.account_number})}"
    try:
        placed = online.place(
            actor=Actor.console(request),
            account=account,
            amount=request.POST.get("amount", ""),
            channel=request.POST.get("channel", ""),
            scene=base.QR,
            origin=origin(request),
        )
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
        return redirect(back)
    if placed.placement is None:
        messages.error(request, placed.error)
        if placed.order.status == OrderStatus.CREATED:
            return redirect("payments:order_qr", placed.order.order_no)
        return redirect(back)
    return redirect("payments:order_qr", placed.order.order_no)


@require_GET
@staff_required(Perm.PAYMENT_RECORD)
def order_qr(request, order_no: str):
    order = get_or_404(_staff_orders(request.user), order_no=(order_no or "")[:32])
    if order.status == OrderStatus.CREATED and not order.pay_url:
        placed = online.place_again(order, origin=origin(request)) if _payable(order) else None
        if placed is not None and placed.placement is None:
            messages.error(request, placed.error)
        order.refresh_from_db()
    return qr_page(
        request,
        order,
        status_url=reverse("payments:order_status", args=[order.order_no]),
        done_url=reverse("payments:receipt", args=[order.payment_id]) if order.payment_id else "",
        standalone=request.GET.get("display") == "1",
    )


def _payable(order: PaymentOrder) -> bool:
    return order.expires_at is None or order.expires_at > timezone.now()


@require_GET
@staff_required(Perm.PAYMENT_RECORD)
def order_status(request, order_no: str):
    """The fragment a QR page polls: waiting, paid (with the receipt), closed. 286 stops htmx's polling."""
    order = get_or_404(_staff_orders(request.user), order_no=(order_no or "")[:32])
    order = settle_if_due(order)
    done = reverse("payments:receipt", args=[order.payment_id]) if order.payment_id else ""
    return status_fragment(request, order, status_url=request.path, done_url=done)


def status_fragment(request, order: PaymentOrder, *, status_url: str, done_url: str) -> HttpResponse:
    response = render(
        request,
        "payments/_pay_status.html",
        {"order": order, "status_url": status_url, "done_url": done_url, "expired": not _payable(order)},
    )
    if order.status != OrderStatus.CREATED:
        response.status_code = 286
    return response


# ---------------------------------------------------------------- WeChat OAuth (snsapi_base) for JSAPI


def _safe_next(request, raw: str) -> str:
    if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()}, require_https=False):
        return raw
    return reverse("portal:accounts")


@require_GET
@customer_required
def wechat_oauth_start(request):
    """Send the payer (inside WeChat) to WeChat's authorize page for their openid, then back to `next`."""
    conf = settings.GRIDCARE["WECHAT"]
    if not conf.get("APPID") or not conf.get("OAUTH_URL"):
        raise Http404
    state = secrets.token_urlsafe(16)
    request.session[OAUTH_STATE_KEY] = {
        "state": state,
        "next": _safe_next(request, request.GET.get("next", "")),
    }
    query = urlencode(
        {
            "appid": conf["APPID"],
            "redirect_uri": request.build_absolute_uri(reverse("payments_portal:wechat_oauth_back")),
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return redirect(f"{conf['OAUTH_URL'].rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect")


@require_GET
@customer_required
def wechat_oauth_back(request):
    saved = request.session.pop(OAUTH_STATE_KEY, None) or {}
    nxt = saved.get("next") or reverse("portal:accounts")
    if not saved or request.GET.get("state") != saved.get("state") or not request.GET.get("code"):
        messages.error(request, _("微信授权未完成，请重试"))
        return redirect(nxt)
    conf = settings.GRIDCARE["WECHAT"]
    query = urlencode(
        {
            "appid": conf["APPID"],
            "secret": conf.get("APP_SECRET", ""),
            "code": request.GET["code"][:128],
            "grant_type": "authorization_code",
        }
    )
    try:
        answer = http.call(
            "GET", f"{conf['SNS_URL'].rstrip('/')}/sns/oauth2/access_token?{query}", channel="wechat"
        )
        data = json.loads(answer.body)
    except (base.ChannelError, ValueError) as exc:
        logger.warning("wechat oauth: no answer: %s", exc)
        messages.error(request, _("微信授权暂时无法完成，请稍后重试"))
        return redirect(nxt)
    openid = data.get("openid") if isinstance(data, dict) else None
    if not isinstance(openid, str) or not openid or len(openid) > 64:
        logger.warning("wechat oauth refused: %s", str(data)[:200])
        messages.error(request, _("微信授权失败，请重试"))
        return redirect(nxt)
    request.session[OPENID_SESSION_KEY] = openid
    return redirect(nxt)
