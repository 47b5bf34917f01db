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
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.views import customer_required, form_errors_from
from gridcare.payments.channels import gateways
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Allocation, PaymentOrder
from gridcare.portal import selectors as portal_selectors
from gridcare.portal import services as portal_services
from gridcare.portal import views as portal_views

AMOUNT_RE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


class PortalPayForm(forms.Form):
    amount = forms.CharField(
        label=gettext_lazy("缴费金额(元)"),
        max_length=20,
        help_text=gettext_lazy("默认为当前应缴金额；多缴部分转为预存电费"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
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


@customer_required
@require_http_methods(["GET", "POST"])
def pay(request, account_number: str):
    account = portal_selectors.portal_account_get(user=request.user, account_number=account_number)
    st = selectors.statement(account, timezone.localdate())
    enabled = gateways.sandbox_enabled()
    initial = {"amount": st.amount_due} if st.amount_due > 0 else {}
    if AMOUNT_RE.fullmatch(request.GET.get("amount", "")):  # back from 身份确认 with the amount typed before
        initial = {"amount": request.GET["amount"]}
    form = PortalPayForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        if enabled and portal_services.reauth_needed_to_pay(request.session, amount):
            # A large payment needs a recent re-authentication (password or SMS code), then comes back here.
            back = f"{request.path}?{urlencode({'amount': f'{amount:.2f}'})}"
            return portal_views.reauth_redirect(request, back)
        if not enabled:
            form.add_error(None, _("在线支付暂未开通，请到营业厅或通过其他渠道缴费"))
        else:
            try:
                order = gateways.order_create(
                    actor=Actor.from_request(request, Channel.PORTAL),
                    account=account,
                    amount=form.cleaned_data["amount"],
                    channel=PaymentChannel.PORTAL,
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                return redirect("payments:sandbox", order.order_no)
    return render(
        request,
        "payments/portal_pay.html",
        {"acct": _account_view(account), "statement": st, "form": form, "enabled": enabled},
        status=400 if form.is_bound and form.errors else 200,
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
            channel=PaymentChannel.PORTAL,
            account__bindings__user=request.user,
        )
        .first()
    )
    if order is None:
        raise Http404
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
