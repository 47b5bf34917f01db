"""The cashier's counter (柜台收费): look up a 户号, see what is owed as of today, take the payment (cash with
the amount tendered and the change), print the receipt. Every payment goes through
`services.payment_record`, like every other channel, via `counter.counter_payment_record`: the cashier needs
an open shift (收费班次), shown with its running totals.

The payment form is idempotent: each lookup gets a random token (in the address, `?account_number=…&t=…`,
and in the form); a second submit of the same form — Back and submit again, a double click — shows the
first payment's receipt and records nothing. The receipt page (`receipt`) serves every payment of the
user's units, whatever its channel (see `receipts`)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.views import form_errors_from, staff_required
from gridcare.customers.selectors import accounts_visible

from . import counter as counter_services
from . import receipts, selectors, views_counter
from .forms import CounterPaymentForm, LookupForm


@staff_required(Perm.PAYMENT_RECORD)
def counter(request):
    lookup = LookupForm(request.GET or None)
    shift = counter_services.open_shift_of(request.user)
    context = {
        "lookup": lookup,
        "shift": shift,
        "shift_totals": counter_services.shift_totals([shift.pk])[shift.pk] if shift else None,
        "shift_form": views_counter.ShiftOpenForm(),
    }
    number = request.POST.get("account_number") or (
        lookup.is_valid() and lookup.cleaned_data["account_number"]
    )
    account = accounts_visible(user=request.user).filter(account_number=str(number or "").strip()).first()
    if number and account is None:
        lookup.add_error("account_number", _("户号不存在，或不属于本单位"))
    pay_form = None
    if account is not None:
        token = request.GET.get("t", "")
        if request.method == "GET":
            # The form's token lives in the page's address: Back (re-fetched or not) shows the same form and
            # token again, and submitting it again shows the first receipt rather than taking the money twice.
            used = counter_services.payment_of_token(token)
            if not counter_services.TOKEN_RE.fullmatch(token) or (
                used and used.received_by_id != request.user.pk
            ):
                return redirect(_counter_url(account.account_number, counter_services.new_form_token()))
            context["submitted"] = used
        if request.method == "POST":
            pay_form = CounterPaymentForm(request.POST)
            if pay_form.is_valid():
                try:
                    rec = counter_services.counter_payment_record(
                        actor=Actor.from_request(request, Channel.CONSOLE),
                        channel=pay_form.cleaned_data["channel"],
                        account_number=account.account_number,
                        amount=pay_form.cleaned_data["amount"],
                        tendered=pay_form.cleaned_data["tendered"],
                        form_token=pay_form.cleaned_data["form_token"],
                    )
                except ValidationError as exc:
                    form_errors_from(pay_form, exc)
                else:
                    if not rec.created:
                        messages.warning(
                            request,
                            _("此收费表单已提交过，没有重复收费：以下是首次提交的收据（收据号 %(no)s）")
                            % {"no": rec.payment.channel_txn_id},
                        )
                    return redirect("payments:receipt", rec.payment.pk)
        st = selectors.statement(account, timezone.localdate())
        pay_form = pay_form or CounterPaymentForm(
            initial={"account_number": account.account_number, "amount": st.amount_due, "form_token": token}
        )
        context.update(
            account=account,
            name=mask_customer_name(account.customer.name, account.customer.kind),
            address=mask_address(account.premise.address),
            statement=st,
            pay_form=pay_form,
            action=_counter_url(account.account_number, pay_form["form_token"].value() or token),
        )
    return render(
        request, "payments/counter.html", context, status=400 if pay_form and pay_form.errors else 200
    )


def _counter_url(account_number: str, token: str) -> str:
    return f"{reverse('payments:counter')}?{urlencode({'account_number': account_number, 't': token})}"


@staff_required(Perm.CUSTOMER_VIEW)
def receipt(request, pk: int):
    """The receipt of any payment of the user's units (every channel; a reversed one says 已冲正)."""
    payment = get_or_404(receipts.receipt_payments(request.user), pk=pk)
    return render(request, "payments/receipt.html", {"r": receipts.receipt_of(payment)})
