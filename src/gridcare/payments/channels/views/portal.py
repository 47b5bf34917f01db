"""Portal online payment (网上缴费), as the 95598 site does it: a bound 户号 → masked name, address, supply
unit and what is owed as of today → an amount → an online order → the payment gateway → the receipt.

The gateway is the local sandbox (`sandbox.py`) while no real portal channel is contracted; its signed
notification pays the order through `gateways`, like any channel. Only the customer the account is bound
to may pay it or see its receipts: anyone else gets the portal's 404, anonymous visitors the login page.
"""

import re
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.views import customer_required, form_errors_from
from gridcare.payments.channels import gateways, online
from gridcare.payments.channels.providers import base
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Allocation, PaymentOrder
from gridcare.portal import selectors as portal_selectors
from gridcare.portal import services as portal_services
from gridcare.portal import views as portal_views

from . import online as online_views

ONLINE = (PaymentChannel.PORTAL, PaymentChannel.ALIPAY, PaymentChannel.WECHAT)
AMOUNT_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


class PortalPayForm(forms.Form):
    # 支付宝 / 微信支付 when configured; "sandbox" (模拟支付网关) where the sandbox is on. The first offered is
    # the default.
    method = forms.ChoiceField(
        label=gettext_lazy("支付方式"), choices=(), widget=forms.RadioSelect, required=False
    )
    amount = forms.CharField(
        label=gettext_lazy("缴费金额(元)"),
        max_length=20,
        help_text=gettext_lazy("默认为当前应缴金额；多缴部分转为预存电费"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args, methods: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = methods
        if methods and not self.initial.get("method"):
            self.initial["method"] = methods[0][0]

    def clean_method(self):
        # Not chosen (an older page, a script): the first offered, as the page preselects it.
        return self.cleaned_data.get("method") or (
            self.fields["method"].choices[0][0] if self.fields["method"].choices else ""
        )

    def clean_amount(self):
        raw = self.cleaned_data["amount"]
        if not AMOUNT_RE.fullmatch(raw):  # what a customer types: no exponents, signs or thousands commas
            raise ValidationError(_("请输入正确的金额，如 80.70"))
        try:
            return services.clean_amount(raw)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["amount"]) from None


def _account_view(account) -> dict:
    """What the pay and receipt pages show of the account: 95598's masked name and address."""
    return {
        "account_number": account.account_number,
        "name": mask_customer_name(account.customer.name, account.customer.kind),
        "address": mask_address(account.premise.address),
        "supply_unit": account.unit.name,
    }


SANDBOX = "sandbox"


def pay_methods() -> list[tuple[str, str]]:
    methods = online_views.wallets()
    if gateways.sandbox_enabled():
        methods.append((SANDBOX, _("模拟支付网关（测试环境）")))
    return methods


@customer_required
@require_http_methods(["GET", "POST"])
def pay(request, account_number: str):
    account = portal_selectors.portal_account_get(user=request.user, account_number=account_number)
    st = selectors.statement(account, timezone.localdate())
    methods = pay_methods()
    enabled = bool(methods)
    initial = {"amount": st.amount_due} if st.amount_due > 0 else {}
    if AMOUNT_RE.fullmatch(
        request.GET.get("amount", "")
    ):  # back from 身份确认 / WeChat OAuth with the amount
        initial = {"amount": request.GET["amount"]}
    if request.GET.get("method") in dict(methods):
        initial["method"] = request.GET["method"]
    data = request.POST or None
    if data is None and request.GET.get("go") == "1" and "amount" in initial and "method" in initial:
        data = {"amount": initial["amount"], "method": initial["method"]}  # back from WeChat OAuth: go on
    form = PortalPayForm(data, initial=initial, methods=methods)
    if data is not None and form.is_valid():
        amount, method = form.cleaned_data["amount"], form.cleaned_data["method"]
        if portal_services.reauth_needed_to_pay(request.session, amount):
            # A large payment needs a recent re-authentication (password or SMS code), then comes back here.
            back = f"{request.path}?{urlencode({'amount': f'{amount:.2f}', 'method': method})}"
            return portal_views.reauth_redirect(request, back)
        if method == SANDBOX:
            try:
                order = gateways.order_create(
                    actor=Actor.from_request(request, Channel.PORTAL),
                    account=account,
                    amount=amount,
                    channel=PaymentChannel.PORTAL,
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                return redirect("payments:sandbox", order.order_no)
        else:
            answer = _pay_online(request, account, amount, method, st)
            if isinstance(answer, str):
                form.add_error(None, answer)
            elif isinstance(answer, ValidationError):
                form_errors_from(form, answer)
            else:
                return answer
    response = render(
        request,
        "payments/portal_pay.html",
        {"acct": _account_view(account), "statement": st, "form": form, "enabled": enabled},
        status=400 if form.is_bound and form.errors else 200,
    )
    return online_views.allow_cashiers(response)  # the form's answer goes on to the channel's cashier


def _pay_online(request, account, amount, channel: str, st):
    """Place the order with the real channel and send the browser on; a message (str) or the ValidationError
    when it cannot be placed."""
    scene = online_views.scene_for(channel, request)
    openid = ""
    if scene == base.JSAPI:
        openid = request.session.get(online_views.OPENID_SESSION_KEY, "")
        if not openid:  # WeChat's OAuth first, then back here with the same amount
            back = f"{request.path}?{urlencode({'amount': f'{amount:.2f}', 'method': channel, 'go': '1'})}"
            return redirect(f"{reverse('payments_portal:wechat_oauth')}?{urlencode({'next': back})}")
    try:
        placed = online.place(
            actor=Actor.from_request(request, Channel.PORTAL),
            account=account,
            amount=amount,
            channel=channel,
            scene=scene,
            origin=online_views.origin(request),
            return_url=request.build_absolute_uri(reverse("payments_portal:receipt", args=["ORDER"])).replace(
                "/ORDER/", "/{order_no}/"
            ),
            openid=openid,
            client_ip=client_ip(request) or "",
            bill_periods=[ln.period for ln in st.lines],
        )
    except ValidationError as exc:
        return exc
    order = placed.order
    done = reverse("payments_portal:receipt", args=[order.order_no])
    response = online_views.respond(
        request,
        placed,
        status_url=reverse("payments_portal:order_status", args=[order.order_no]),
        done_url=request.build_absolute_uri(done),
    )
    return response if response is not None else placed.error


def _own_order(request, order_no: str) -> PaymentOrder:
    order = (
        PaymentOrder.objects.select_related("account__customer", "account__unit", "payment")
        .filter(
            order_no=(order_no or "").strip()[:32],
            channel__in=ONLINE,
            account__bindings__user=request.user,
            public_token_hash__isnull=True,
        )
        .first()
    )
    if order is None:
        raise Http404
    return order


@customer_required
def order_qr(request, order_no: str):
    """WeChat Native on a computer: the QR code to scan with the phone, followed until paid."""
    order = _own_order(request, order_no)
    return online_views.qr_page(
        request,
        order,
        status_url=reverse("payments_portal:order_status", args=[order.order_no]),
        done_url=reverse("payments_portal:receipt", args=[order.order_no]),
        portal=True,
    )


@customer_required
def order_status(request, order_no: str):
    order = online_views.settle_if_due(_own_order(request, order_no))
    return online_views.status_fragment(
        request,
        order,
        status_url=request.path,
        done_url=reverse("payments_portal:receipt", args=[order.order_no]),
    )


@customer_required
def receipt(request, order_no: str):
    """The customer's receipt for an online order of one of their bound accounts."""
    order = (
        PaymentOrder.objects.select_related(
            "account__customer", "account__premise", "account__unit", "payment"
        )
        .prefetch_related(
            Prefetch(
                "payment__allocations",
                queryset=Allocation.objects.select_related("receivable").order_by("id"),
            )
        )
        .filter(
            order_no=(order_no or "").strip()[:32],
            channel__in=ONLINE,
            account__bindings__user=request.user,
            public_token_hash__isnull=True,
        )
        .first()
    )
    if order is None:
        raise Http404
    order = online_views.settle_if_due(order)  # back from the channel's cashier: ask it rather than wait
    payment = order.payment if order.status == gateways.ORDER_PAID else None
    return render(
        request,
        "payments/portal_receipt.html",
        {
            "order": order,
            "payment": payment,
            "allocations": list(payment.allocations.all()) if payment else [],
            "acct": _account_view(order.account),
            "statement": selectors.statement(order.account, timezone.localdate()),
        },
    )
