"""The cashier's counter (柜台收费): look up a 户号, see what is owed as of today, take the payment (cash with
the amount tendered and the change), print the receipt. Every payment goes through
`services.payment_record`, like every other channel, via `counter.counter_payment_record`: the cashier needs
an open shift (收费班次), shown with its running totals.

The payment form is idempotent: each lookup gets a random token (in the address, `?account_number=…&t=…`,
and in the form); a second submit of the same form — Back and submit again, a double click — shows the
first payment's receipt and records nothing. The receipt page (`receipt`) serves every payment of the
user's units, whatever its channel (see `receipts`).

Counter pages: open a shift, the till close (日结), the shift list, the daily close sheet (日结单), the
refund request form and the managers' refund approval queue. Thin: the rules live in `counter` and
`refunds`."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.locks import Conflict
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404, may_act_on_unit, visible_unit_ids
from gridcare.core.validators import clean_date
from gridcare.core.views import form_errors_from, staff_required
from gridcare.customers.selectors import accounts_visible
from gridcare.payments.channels.views import online as online_views
from gridcare.payments.choices import RefundMethod
from gridcare.payments.ledger import payment_refunds, refunds
from gridcare.payments.ledger import statement as selectors

from . import receipts, services
from .forms import CounterPaymentForm, LookupForm


class ShiftOpenForm(forms.Form):
    counter = forms.CharField(label=gettext_lazy("收费窗口"), max_length=40)
    opening_float = forms.CharField(label=gettext_lazy("备用金(元)"), max_length=20, initial="0.00")


class ShiftCloseForm(forms.Form):
    declared_cash = forms.CharField(label=gettext_lazy("清点现金(元，不含备用金)"), max_length=20)
    declared_card = forms.CharField(label=gettext_lazy("刷卡汇总(元)"), max_length=20)


class RefundForm(forms.Form):
    account_number = forms.CharField(label=gettext_lazy("户号"), max_length=10)
    amount = forms.CharField(label=gettext_lazy("退费金额(元)"), max_length=20)
    # 原路退回 is asked for on one payment (the ledger's payment list), not on the account's credit.
    method = forms.ChoiceField(
        label=gettext_lazy("退费方式"),
        choices=[(v, label) for v, label in RefundMethod.choices if v != RefundMethod.ORIGINAL],
    )
    reason = forms.CharField(
        label=gettext_lazy("退费原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RefundDecideForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("审批意见"), max_length=200, required=False)


# ---------------------------------------------------------------- shifts


@require_POST
@staff_required(Perm.PAYMENT_RECORD)
def shift_open(request):
    form = ShiftOpenForm(request.POST)
    if form.is_valid():
        try:
            services.shift_open(
                actor=Actor.console(request),
                counter=form.cleaned_data["counter"],
                opening_float=form.cleaned_data["opening_float"],
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            return redirect("payments:counter")
    return render(request, "payments/shift_open.html", {"form": form}, status=400)


@staff_required(Perm.PAYMENT_RECORD)
def shift_close(request, pk: int):
    shift = services.shifts_visible(user=request.user).filter(pk=pk, cashier=request.user).first()
    # A closed shift has no close page; a close posted again (another tab, a double click) hears who closed it.
    if shift is None or (shift.status != "open" and request.method != "POST"):
        raise Http404
    totals = services.shift_totals([shift.pk])[shift.pk]
    form = ShiftCloseForm(request.POST or None)
    busy = False
    if request.method == "POST" and form.is_valid():
        try:
            services.shift_close(
                actor=Actor.console(request),
                shift=shift,
                declared_cash=form.cleaned_data["declared_cash"],
                declared_card=form.cleaned_data["declared_card"],
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        except Conflict as exc:
            form.add_error(None, str(exc))
            busy = True
        else:
            # The sheet of the day the shift opened (a shift past midnight belongs to its opening day).
            opened_on = timezone.localdate(shift.opened_at).isoformat()
            return redirect(f"{reverse('payments:shift_daily')}?day={opened_on}")
    return render(
        request,
        "payments/shift_close.html",
        {"shift": shift, "totals": totals, "form": form},
        status=409 if busy else 400 if form.errors else 200,
    )


@staff_required(Perm.PAYMENT_RECORD, Perm.STATS_VIEW)
def shift_list(request):
    shifts = list(services.shifts_visible(user=request.user)[:100])
    live = services.shift_totals([s.pk for s in shifts if s.status == "open"])
    rows = [(s, live.get(s.pk)) for s in shifts]
    return render(request, "payments/shift_list.html", {"rows": rows})


@staff_required(Perm.PAYMENT_RECORD, Perm.STATS_VIEW)
def shift_daily(request):
    """日结单 of a unit and a day (printable)."""
    from gridcare.org.models import SupplyUnit

    day, error = timezone.localdate(), ""
    if request.GET.get("day"):
        try:
            day = clean_date(request.GET["day"])
        except ValidationError as exc:
            error = _("日期：%(e)s") % {"e": exc.messages[0]}
    try:
        unit_id = int(request.GET.get("unit") or request.user.unit_id)
    except ValueError:
        raise Http404 from None
    if not any(may_act_on_unit(request.user, unit_id, p) for p in (Perm.PAYMENT_RECORD, Perm.STATS_VIEW)):
        raise Http404
    visible = visible_unit_ids(request.user)
    sheet = services.daily_sheet(user=request.user, unit=SupplyUnit.objects.get(pk=unit_id), day=day)
    units = SupplyUnit.objects.filter(pk__in=visible).order_by("path")
    if error:  # today's sheet under the reason the asked day was refused
        messages.error(request, error)
    return render(
        request, "payments/shift_daily.html", {"sheet": sheet, "units": units}, status=400 if error else 200
    )


# ---------------------------------------------------------------- refunds


@staff_required(Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)
def refund_new(request):
    form = RefundForm(request.POST or None, initial={"account_number": request.GET.get("account_number", "")})
    account = credit = None
    number = (request.POST.get("account_number") or request.GET.get("account_number") or "").strip()
    if number:
        account = accounts_visible(user=request.user).filter(account_number=number).first()
        credit = refunds.credit_of(account.pk) - refunds.pending_of(account.pk) if account else None
    if request.method == "POST" and form.is_valid():
        if account is None:
            form.add_error("account_number", _("户号不存在，或不属于本单位"))
        else:
            try:
                refunds.refund_request(
                    actor=Actor.console(request),
                    account=account,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    method=form.cleaned_data["method"],
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            except refunds.PermissionDenied:
                form.add_error("account_number", _("户号不存在，或不属于本单位"))
            else:
                return redirect("payments:refund_list")
    return render(
        request,
        "payments/refund_form.html",
        {"form": form, "account": account, "credit": credit},
        status=400 if form.errors else 200,
    )


@staff_required(Perm.REFUND_APPROVE, Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)
def refund_list(request):
    """Refunds of the user's units; managers (refund.approve) approve or reject the pending ones here."""
    status = request.GET.get("status", "pending")
    qs = refunds.refunds_visible(user=request.user)
    if status in {"pending", "approved", "rejected"}:
        qs = qs.filter(status=status)
    return render(
        request,
        "payments/refund_queue.html",
        {
            "refunds": list(qs[:200]),
            "status": status,
            "may_approve": has_perm(request.user, Perm.REFUND_APPROVE),
            "decide_form": RefundDecideForm(),
        },
    )


@require_POST
@staff_required(Perm.REFUND_APPROVE)
def refund_decide(request, pk: int):
    refund = get_or_404(refunds.refunds_visible(user=request.user), pk=pk)
    form = RefundDecideForm(request.POST)
    error, status = None, 400
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        # Never read a missing or misspelt choice as a rejection: a decision cannot be undone.
        error = _("请选择批准或驳回")
    elif form.is_valid():
        try:
            decided = payment_refunds.refund_decide_and_send(
                actor=Actor.console(request),
                refund=refund,
                approve=decision == "approve",
                note=form.cleaned_data["note"],
            )
        except refunds.PermissionDenied:
            error = _("不能审批自己提交的退费申请")
        except ValidationError as exc:
            error = "；".join(exc.messages)
        except Conflict as exc:  # another manager decided it first
            error, status = str(exc), 409
        else:
            # The channel's answer to an approved refund to the original channel: refused is an error, not
            # reachable yet a warning (the job retries), anything else a success.
            outcome = decided.sent.outcome if decided.sent else ""
            level = {"failed": messages.error, "unreachable": messages.warning}.get(outcome, messages.success)
            level(request, decided.message)
            return redirect("payments:refund_list")
    qs = refunds.refunds_visible(user=request.user).filter(status="pending")
    return render(
        request,
        "payments/refund_queue.html",
        {
            "refunds": list(qs[:200]),
            "status": "pending",
            "may_approve": True,
            "decide_form": form,
            "error": error,
        },
        status=status,
    )


@staff_required(Perm.PAYMENT_RECORD)
def counter(request):
    lookup = LookupForm(request.GET or None)
    shift = services.open_shift_of(request.user)
    context = {
        "lookup": lookup,
        "shift": shift,
        "shift_totals": services.shift_totals([shift.pk])[shift.pk] if shift else None,
        "shift_form": ShiftOpenForm(),
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
            used = services.payment_of_token(token)
            if not services.TOKEN_RE.fullmatch(token) or (used and used.received_by_id != request.user.pk):
                return redirect(_counter_url(account.account_number, services.new_form_token()))
            context["submitted"] = used
        if request.method == "POST":
            pay_form = CounterPaymentForm(request.POST)
            if pay_form.is_valid():
                try:
                    rec = services.counter_payment_record(
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
            wallets=online_views.wallets(),  # 扫码支付: Alipay / WeChat Pay QR codes, where configured
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
