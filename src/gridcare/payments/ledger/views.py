"""Console pages of the account ledger (电费账), payment reversal (冲正) and late-fee waivers (违约金减免).

- `/payments/accounts/<户号>/ledger/`: staff who may view the account's customers (customer.view of its
  unit; 404 otherwise). Entries oldest first with the running balance, open bills with the late fee accrued
  as of today, payments with their allocations, pending waivers.
- `POST /payments/<id>/reverse/` (payment.reverse): one form per posted payment, reason required →
  `services.payment_reverse`.
- `POST /payments/<id>/refund/` (payment.record or payment.reverse): ask to refund part or all of an Alipay or
  WeChat payment to its original channel (原路退回) → `payment_refunds.payment_refund_request`; a manager
  approves it on the refunds page.
- `POST /payments/receivables/<id>/waiver/` (payment.reverse): request a waiver → `services.waiver_request`.
- `/payments/waivers/` (fee.waive_approve): the approval queue; `POST /payments/waivers/<id>/decide/`
  → `services.waiver_decide`.

A refused form re-renders its page with the error next to the row (400) and nothing written; an object the
user may not act on is a 404, like a missing one.
"""

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
from gridcare.core.locks import Conflict
from gridcare.core.masking import mask_address, mask_customer_name
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import may_act_on_unit
from gridcare.core.views import form_errors_from, staff_required
from gridcare.payments.choices import PaymentStatus

from . import payment_refunds, services
from . import selectors as ledger_selectors


class ReversalForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("冲正原因"),
        max_length=500,
        error_messages={"required": gettext_lazy("请填写冲正原因")},
    )


class PaymentRefundForm(forms.Form):
    amount = forms.CharField(
        label=gettext_lazy("退款金额(元)"),
        max_length=20,
        error_messages={"required": gettext_lazy("请填写退款金额")},
    )
    reason = forms.CharField(
        label=gettext_lazy("退款原因"),
        max_length=500,
        error_messages={"required": gettext_lazy("请填写退款原因")},
    )


class WaiverRequestForm(forms.Form):
    amount = forms.CharField(
        label=gettext_lazy("减免金额(元)"),
        max_length=20,
        error_messages={"required": gettext_lazy("请填写减免金额")},
    )
    reason = forms.CharField(
        label=gettext_lazy("减免原因"),
        max_length=500,
        error_messages={"required": gettext_lazy("请填写减免原因")},
    )


class WaiverDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", gettext_lazy("批准")), ("reject", gettext_lazy("驳回"))],
        error_messages={
            "required": gettext_lazy("请选择批准或驳回"),
            "invalid_choice": gettext_lazy("请选择批准或驳回"),
        },
    )


def _ledger_url(account_number: str) -> str:
    return reverse("payments:ledger", args=[account_number])


def _render_ledger(request, account_number: str, *, failed: dict | None = None, status: int = 200):
    """The ledger page; `failed` = {"payment": id | "receivable": id, "form": bound form with errors}."""
    today = timezone.localdate()
    led = ledger_selectors.account_ledger(user=request.user, account_number=account_number, as_of=today)
    can_reverse = has_perm(request.user, Perm.PAYMENT_REVERSE)
    failed = failed or {}
    may_refund = any(
        may_act_on_unit(request.user, led.account.unit_id, p)
        for p in (Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)
    )
    info = payment_refunds.refund_info(led.payments)
    payments = [
        {
            "p": p,
            "form": failed["form"] if failed.get("payment") == p.pk else ReversalForm(),
            "can_reverse": can_reverse and p.status == PaymentStatus.POSTED,
            "refund": info[p.pk],
            "can_refund": may_refund and info[p.pk].eligible,
            "refund_form": failed["form"] if failed.get("refund") == p.pk else PaymentRefundForm(),
        }
        for p in led.payments
    ]
    receivables = [
        {
            "o": o,
            "form": failed["form"] if failed.get("receivable") == o.receivable.pk else WaiverRequestForm(),
            "can_waive": can_reverse and o.fee_owed > 0,
        }
        for o in led.receivables
    ]
    return render(
        request,
        "payments/ledger.html",
        {
            "ledger": led,
            "account": led.account,
            "name": mask_customer_name(led.account.customer.name, led.account.customer.kind),
            "address": mask_address(led.account.premise.address),
            "payments": payments,
            "receivables": receivables,
            "can_reverse": can_reverse,
            "may_refund": may_refund,
            "failed": failed,
        },
        status=status,
    )


@staff_required(Perm.CUSTOMER_VIEW)
def ledger(request, account_number: str):
    return _render_ledger(request, account_number)


@require_POST
@staff_required(Perm.PAYMENT_REVERSE)
def payment_reverse(request, pk: int):
    payment = ledger_selectors.payment_for_reversal(user=request.user, pk=pk)
    number = payment.account.account_number
    form = ReversalForm(request.POST)
    if form.is_valid():
        try:
            services.payment_reverse(
                actor=Actor.console(request), payment=payment, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        except services.PermissionDenied:
            raise Http404 from None
        else:
            messages.success(
                request,
                _("缴费 %(t)s（%(a)s 元）已冲正，相应欠费已恢复")
                % {"t": payment.channel_txn_id, "a": payment.amount},
            )
            return redirect(_ledger_url(number))
    return _render_ledger(request, number, failed={"payment": payment.pk, "form": form}, status=400)


@require_POST
@staff_required(Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)
def payment_refund(request, pk: int):
    payment = ledger_selectors.payment_for_refund(user=request.user, pk=pk)
    number = payment.account.account_number
    form = PaymentRefundForm(request.POST)
    if form.is_valid():
        try:
            refund = payment_refunds.payment_refund_request(
                actor=Actor.console(request),
                payment=payment,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:  # "payment" (not this kind of payment) is the form's own error
            form_errors_from(
                form,
                ValidationError({"__all__" if k == "payment" else k: v for k, v in exc.message_dict.items()}),
            )
        except services.PermissionDenied:
            raise Http404 from None
        else:
            messages.success(
                request,
                _("原路退款申请已提交（退款单号 %(n)s，%(a)s 元），待管理人员审批")
                % {"n": refund.refund_no, "a": refund.amount},
            )
            return redirect(_ledger_url(number))
    return _render_ledger(request, number, failed={"refund": payment.pk, "form": form}, status=400)


@require_POST
@staff_required(Perm.PAYMENT_REVERSE)
def waiver_request(request, pk: int):
    receivable = ledger_selectors.receivable_for_waiver(user=request.user, pk=pk)
    number = receivable.account.account_number
    form = WaiverRequestForm(request.POST)
    if form.is_valid():
        try:
            services.waiver_request(
                actor=Actor.console(request),
                receivable=receivable,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                on=timezone.localdate(),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        except services.PermissionDenied:
            raise Http404 from None
        else:
            messages.success(
                request, _("账期 %(p)s 的违约金减免申请已提交，待管理人员审批") % {"p": receivable.period}
            )
            return redirect(_ledger_url(number))
    return _render_ledger(request, number, failed={"receivable": receivable.pk, "form": form}, status=400)


def _render_queue(request, *, failed: dict | None = None, status: int = 200):
    waivers = list(ledger_selectors.waiver_queue(user=request.user))
    return render(
        request, "payments/waivers.html", {"waivers": waivers, "failed": failed or {}}, status=status
    )


@staff_required(Perm.FEE_WAIVE_APPROVE)
def waiver_queue(request):
    return _render_queue(request)


@require_POST
@staff_required(Perm.FEE_WAIVE_APPROVE)
def waiver_decide(request, pk: int):
    waiver = ledger_selectors.waiver_for_decision(user=request.user, pk=pk)
    form = WaiverDecisionForm(request.POST)
    status = 400
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.waiver_decide(
                actor=Actor.console(request), waiver=waiver, approve=approve, on=timezone.localdate()
            )
        except ValidationError as exc:  # e.g. one's own request (four eyes)
            form_errors_from(form, exc)
        except Conflict as exc:  # another manager decided it first
            form.add_error(None, str(exc))
            status = 409
        except services.PermissionDenied:
            raise Http404 from None
        else:
            msg = _("已批准减免 %(a)s 元") if approve else _("已驳回减免申请（%(a)s 元）")
            messages.success(request, msg % {"a": waiver.amount})
            return redirect("payments:waivers")
    return _render_queue(
        request,
        failed={
            "waiver": waiver.pk,
            "errors": form.errors.get("__all__", [])
            + [e for k, v in form.errors.items() if k != "__all__" for e in v],
        },
        status=status,
    )
