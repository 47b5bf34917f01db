"""Refunds of credit balance (退费), with a manager's approval.

An account's credit (预存余额) is the sum of its posted payments' `unallocated`. A cashier or billing clerk
(payment.record or payment.reverse on the account's unit) asks for a refund of at most that credit, less
the refunds of the account still waiting for a decision. A manager with refund.approve of the unit — never
the requester — approves or rejects it. Approval locks the account (`SELECT … FOR UPDATE`, the lock every
payment takes), checks the credit again, takes the amount from the payments' `unallocated`, oldest payment
first, with `F()` updates (`RefundPart` rows record which), and writes a REFUND ledger entry of +amount:
the money leaves, so the balance goes back up towards 0. Rejection changes no money. Both are audited.

A payment whose credit was refunded (even partly) cannot be reversed afterwards: `services.payment_reverse`
refuses it (`refunded_of`), since the reversal would charge the refunded money a second time. Credit never
sits beside open debt (payments, bill issues and reversals all apply credit at once), so the credit is what
the customer may have back. Two managers deciding at once: the second waits on the refund's row lock and is
refused with `Conflict` (409) "该退费申请已被 X 审批（批准/驳回，time）"; so is any later decision. The method (cash, bank transfer, …) is how finance pays it out: a cash refund is
not taken from a cashier's till, so no shift's close depends on it.

Refunds of ONE Alipay or WeChat payment to the channel it came from (method "original", 原路退回, issue 13 §3)
are asked for through `payment_refunds.payment_refund_request` and approved here like every refund: approval
only marks them approved with channel_status "processing" (the money moves when the channel says it left,
`payment_refunds.refund_settle`), after checking again that the payment still has that much left to refund
(`payment_refunded_of`). `payment_refunds.refund_decide_and_send` is the approval followed by the channel
call. The credit of a payment whose original-channel refund is in flight is not refunded as credit meanwhile:
the refund in flight takes that credit first when it settles.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict
from gridcare.core.money import fen
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import (
    PermissionDenied,
    may_act_on_unit,
    require_object,
    restrict,
)
from gridcare.payments.choices import (
    EntryKind,
    PaymentStatus,
    RefundChannelStatus,
    RefundMethod,
    RefundStatus,
)
from gridcare.payments.models import LedgerEntry, Payment, Refund, RefundPart
from gridcare.payments.notices import refund_enqueue
from gridcare.payments.states import check_transition

from .services import _lock_account, clean_amount, decided_message, refunded_of  # noqa: F401 — refunded_of: part of this API
from .statement import credit_of

__all__ = ["PermissionDenied"]

ZERO = Decimal("0.00")


def pending_of(account_id: int, exclude: int | None = None) -> Decimal:
    qs = Refund.objects.filter(account_id=account_id, status="pending")
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return fen(qs.aggregate(s=Sum("amount"))["s"])


def payment_refunded_of(payment_id: int, exclude: int | None = None, *, pending: bool = True) -> Decimal:
    """What earlier refunds took from, or hold on, one payment: its refunds to the original channel that are
    pending (unless `pending` is False: a refund the channel already made is recorded whatever staff have asked
    for meanwhile), approved (in flight or settled) or recorded from the channel — not rejected ones nor those
    the channel refused — plus the approved credit refunds (退费) that took its credit."""
    original = Refund.objects.filter(payment_id=payment_id, method=RefundMethod.ORIGINAL).exclude(
        status=RefundStatus.REJECTED
    )
    if not pending:
        original = original.exclude(status=RefundStatus.PENDING)
    original = original.exclude(channel_status=RefundChannelStatus.FAILED)
    if exclude is not None:
        original = original.exclude(pk=exclude)
    credit = RefundPart.objects.filter(
        payment_id=payment_id, refund__status=RefundStatus.APPROVED, refund__payment__isnull=True
    )
    return fen(original.aggregate(s=Sum("amount"))["s"]) + fen(credit.aggregate(s=Sum("amount"))["s"])


def in_flight(account_id: int):
    """Ids of the account's payments with a refund to the original channel approved and not yet settled."""
    return Refund.objects.filter(
        account_id=account_id,
        method=RefundMethod.ORIGINAL,
        status=RefundStatus.APPROVED,
        channel_status=RefundChannelStatus.PROCESSING,
        refunded_at__isnull=True,
    ).values("payment_id")


def _may_request(actor: Actor, unit_id: int) -> None:
    """A cashier (payment.record) or a billing clerk (payment.reverse) of the account's unit may ask."""
    if actor.user is None:
        return
    if not any(may_act_on_unit(actor.user, unit_id, p) for p in (Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)):
        raise PermissionDenied


def refund_request(
    *, actor: Actor, account, amount: Any, reason: str, method: str, now: datetime | None = None
) -> Refund:
    """Ask for a refund of credit. Refused (ValidationError, nothing written) when the amount is not a
    positive amount, exceeds the credit less the account's pending refunds, or reason/method is missing."""
    _may_request(actor, account.unit_id)
    errs: dict[str, list[str]] = {}
    try:
        value = clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
        value = None
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        errs["reason"] = [_("请填写退费原因（最多500字）")]
    if method not in RefundMethod.values:
        errs["method"] = [_("未知的退费方式：%(m)s") % {"m": str(method)[:20]}]
    elif method == RefundMethod.ORIGINAL:
        errs["method"] = [_("原路退回须针对一笔支付宝或微信支付的缴费，请在该户的电费账缴费记录中申请")]
    if errs or value is None:  # no amount: its error is in errs
        raise ValidationError(errs)
    with transaction.atomic():
        _lock_account(account.pk)  # pending refunds of one account are checked one at a time
        available = credit_of(account.pk) - pending_of(account.pk)
        if value > available:
            raise ValidationError(
                {
                    "amount": [
                        _("退费金额 %(a)s 元超过可退余额 %(c)s 元（预存余额减去待审批的退费）")
                        % {"a": value, "c": available}
                    ]
                }
            )
        user = actor.user if getattr(actor.user, "is_authenticated", False) else None
        refund = Refund.objects.create(
            account_id=account.pk,
            unit_id=account.unit_id,
            amount=value,
            reason=reason,
            method=method,
            requested_by=user,
            requested_at=now or timezone.now(),
        )
        audit_record(
            actor=actor,
            action="refund.request",
            obj=refund,
            unit_id=account.unit_id,
            customer_id=account.customer_id,
            changes={
                "account_number": account.account_number,
                "amount": str(value),
                "reason": reason,
                "method": method,
            },
        )
    return refund


def refund_decide(
    *,
    actor: Actor,
    refund: Refund,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
    on: date | None = None,
) -> Refund:
    """A manager approves or rejects a pending refund (see the module docstring). The requester, and anyone
    without refund.approve on the unit, is refused (PermissionDenied); approval with too little credit
    left (ValidationError) writes nothing. A refund already decided — by a second approver at the same
    moment, who waits on the row lock — is a Conflict (409) naming who decided it."""
    note = (note or "").strip()
    if len(note) > 200 or "\x00" in note:
        raise ValidationError({"note": [_("审批意见最多200字")]})
    with transaction.atomic():
        refund = Refund.objects.select_related("account").get(pk=refund.pk)
        require_object(actor, refund, Perm.REFUND_APPROVE)
        if actor.user is None or refund.requested_by_id == actor.user.pk:
            raise PermissionDenied
        account = _lock_account(refund.account_id)  # the account first, like every payment
        refund = Refund.objects.select_for_update(of=("self",)).select_related("decided_by").get(pk=refund.pk)
        if refund.status != "pending":  # another approver was first (the row lock made us wait for them)
            raise Conflict(decided_message(_("该退费申请"), refund), holder=refund)
        now = now or timezone.now()
        original = refund.method == RefundMethod.ORIGINAL
        if approve and original:
            _check_original(refund)
            refund.channel_status = RefundChannelStatus.PROCESSING
        elif approve:
            usable = Payment.objects.filter(
                account_id=account.pk, status=PaymentStatus.POSTED, unallocated__gt=0
            ).exclude(pk__in=in_flight(account.pk))
            credit = fen(usable.aggregate(s=Sum("unallocated"))["s"])
            if refund.amount > credit:
                raise ValidationError(
                    {
                        "amount": [
                            _("预存余额 %(c)s 元不足以退费 %(a)s 元") % {"c": credit, "a": refund.amount}
                        ]
                    }
                )
            left, parts = refund.amount, []
            for pid, unallocated in usable.order_by("paid_at", "id").values_list("pk", "unallocated"):
                take = min(left, unallocated)
                Payment.objects.filter(pk=pid).update(unallocated=F("unallocated") - take)
                parts.append(RefundPart(refund=refund, payment_id=pid, amount=take))
                left -= take
                if left == 0:
                    break
            RefundPart.objects.bulk_create(parts)
            LedgerEntry.objects.create(
                account_id=account.pk,
                unit_id=refund.unit_id,
                kind=EntryKind.REFUND,
                amount=refund.amount,
                occurred_on=on or timezone.localdate(now),
                note=(_("退费：%(r)s") % {"r": refund.reason})[:200],
                created_at=now,
            )
            refund_enqueue(refund=refund, customer_id=account.customer_id)  # 退费通知, commits with it
        decided = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
        check_transition(Refund, refund.status, decided)
        refund.status = decided
        refund.decided_by, refund.decided_at, refund.decision_note = actor.user, now, note
        refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "channel_status"])
        audit_record(
            actor=actor,
            action="refund.approve" if approve else "refund.reject",
            obj=refund,
            unit_id=refund.unit_id,
            customer_id=account.customer_id,
            changes={
                "amount": str(refund.amount),
                "requested_by": refund.requested_by_id,
                "status": ["pending", refund.status],
                "note": note,
                **({"refund_no": refund.refund_no, "payment": refund.payment_id} if original else {}),
            },
        )
    return refund


def _check_original(refund: Refund) -> None:
    """An original-channel refund may still be approved: its payment is posted (the account is locked by the
    caller; the payment row is locked here) and its amount fits what the payment has left to refund."""
    assert refund.payment_id is not None  # an original-channel refund always names its payment
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    if payment.status != PaymentStatus.POSTED:
        raise ValidationError({"__all__": [_("该笔缴费已冲正，不能原路退回")]})
    left = payment.amount - payment_refunded_of(payment.pk, exclude=refund.pk)
    if refund.amount > left:
        raise ValidationError(
            {
                "amount": [
                    _("退款金额 %(a)s 元超过该笔缴费可退金额 %(c)s 元") % {"a": refund.amount, "c": left}
                ]
            }
        )


def refunds_visible(*, user):
    """Refunds of the user's units: managers (refund.approve) and the staff who may request them."""
    qs = Refund.objects.select_related("account__customer", "requested_by", "decided_by", "unit", "payment")
    if has_perm(user, Perm.REFUND_APPROVE):
        return restrict(qs, user, Perm.REFUND_APPROVE)
    if has_perm(user, Perm.PAYMENT_RECORD):
        return restrict(qs, user, Perm.PAYMENT_RECORD)
    return restrict(qs, user, Perm.PAYMENT_REVERSE)
