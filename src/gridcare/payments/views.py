"""The cashier's counter (柜台收费): look up a 户号, see what is owed as of today, take the payment, print
the receipt. Every payment goes through `services.payment_record`, like every other channel, via
`counter.counter_payment_record`: the cashier needs an open shift (收费班次), shown with its running totals."""

import secrets

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict
from gridcare.core.views import form_errors_from, staff_required
from gridcare.customers.selectors import accounts_visible

from . import counter as counter_services
from . import selectors, views_counter
from .forms import CounterPaymentForm, LookupForm
from .models import Payment


def _receipt_no(user) -> str:
    """Counter receipt number: C + yymmddHHMMSS + user id + 4 random digits (the transaction id)."""
    return f"C{timezone.localtime():%y%m%d%H%M%S}{user.pk % 1000:03d}{secrets.randbelow(10_000):04d}"


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
        if request.method == "POST":
            pay_form = CounterPaymentForm(request.POST)
            if pay_form.is_valid():
                try:
                    rec = counter_services.counter_payment_record(
                        actor=Actor.from_request(request, Channel.CONSOLE),
                        channel=pay_form.cleaned_data["channel"],
                        channel_txn_id=pay_form.cleaned_data["receipt_no"],
                        account_number=account.account_number,
                        amount=pay_form.cleaned_data["amount"],
                    )
                except ValidationError as exc:
                    form_errors_from(pay_form, exc)
                else:
                    return redirect("payments:receipt", rec.payment.pk)
        st = selectors.statement(account, timezone.localdate())
        pay_form = pay_form or CounterPaymentForm(
            initial={
                "account_number": account.account_number,
                "amount": st.amount_due,
                "receipt_no": _receipt_no(request.user),
            }
        )
        context.update(
            account=account,
            name=mask_customer_name(account.customer.name, account.customer.kind),
            address=mask_address(account.premise.address),
            statement=st,
            pay_form=pay_form,
        )
    return render(
        request, "payments/counter.html", context, status=400 if pay_form and pay_form.errors else 200
    )


@staff_required(Perm.CUSTOMER_VIEW)
def receipt(request, pk: int):
    payment = (
        restrict(
            Payment.objects.select_related(
                "account__customer", "account__premise", "unit", "received_by", "shift"
            ),
            request.user,
            Perm.CUSTOMER_VIEW,
        )
        .filter(pk=pk)
        .first()
    )
    if payment is None:
        raise Http404
    allocations = list(payment.allocations.select_related("receivable").order_by("id"))
    return render(
        request,
        "payments/receipt.html",
        {
            "payment": payment,
            "allocations": allocations,
            "name": mask_customer_name(payment.account.customer.name, payment.account.customer.kind),
            "statement": selectors.statement(payment.account, timezone.localdate()),
        },
    )
