"""Writes of the payments app: receivables from issued bills, payments with allocation, reversals, waivers.

Every write runs in one transaction and locks the account row first (`SELECT … FOR UPDATE`), so two
payments of the same account — from two channels at the same moment — are applied one after the other and
the balance stays right. A payment is unique per (channel, channel transaction id): recording it again
returns the payment already made (same answer), whether the duplicate arrives later or at the same time.

Allocation (SPEC C3, issue 4 §4): the oldest debt first (by due date, then bill); within a bill, its late
fee before its principal. Before a receivable is paid, the late fee accrued up to the payment date is
charged (`Receivable.fee_through` moves to that date). What is left of a payment stays as credit
(`Payment.unallocated`) and pays the next bills when they are issued.

Late fee in segments (the rule itself: `latefee.payment_apply`, the same function the what-if endpoint
uses): the fee is charged each time a payment reaches a bill, for the days since the last charge
(`fee_through`) on the principal then outstanding, rounded half-up to the fen. The 1.00 minimum is on the
bill's cumulative fee: the payment that pays off the principal of an overdue bill is charged the shortfall
to 1.00, fee before principal. A bill paid in parts can therefore differ by a fen from one computation
over the whole period — the counter settles the fee at each payment, as a receipt shows it.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict, person, when
from gridcare.core.money import fen
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_object
from gridcare.customers.models import Account
from gridcare.payments.choices import EntryKind, PaymentChannel, PaymentStatus, WaiverStatus
from gridcare.payments.collections.services import collections_on_payment, collections_on_reversal
from gridcare.payments.models import Allocation, FeeWaiver, LedgerEntry, Payment, Receivable, RefundPart
from gridcare.payments.notices import payment_receipt_enqueue
from gridcare.payments.states import check_transition

from .latefee import FeeState, accrued_fee, fee_charge, fee_state, fee_terms, payment_apply

__all__ = ["PermissionDenied"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999.99")


def clean_amount(raw: Any, field: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """A positive amount in yuan with at most two decimals (ValidationError otherwise); `allow_zero` also
    takes 0 (a declared till total, an opening float, a threshold)."""
    try:
        if isinstance(raw, bool | float):
            raise InvalidOperation
        text = str(raw).strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):  # plain decimals only: no "1E+2"
            raise InvalidOperation
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValidationError({field: [_("金额必须是数字：%(v)s") % {"v": str(raw)[:20]}]}) from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError({field: [_("金额不能为负数") if allow_zero else _("金额必须大于 0")]})
    if value != value.quantize(CENT):
        raise ValidationError({field: [_("金额最多两位小数（分）")]})
    if value > MAX_AMOUNT:
        raise ValidationError({field: [_("金额过大")]})
    return value.quantize(CENT)


def _lock_account(account_id: int) -> Account:
    return Account.objects.select_for_update().select_related("customer").get(pk=account_id)


# ---------------------------------------------------------------- receivables


def receivables_open(bill_ids: list[int], *, on: date | None = None) -> int:
    """Receivables and ledger entries for newly issued bills (called inside the issuing transaction), then
    any credit of those accounts pays them. Bills that already have a receivable are skipped."""
    from gridcare.billing.models import Bill

    if not bill_ids:
        return 0
    now = timezone.now()
    rows = list(
        Bill.objects.filter(pk__any=bill_ids, receivable__isnull=True).values_list(
            "pk",
            "account_id",
            "unit_id",
            "account__customer__customer_class",
            "period_start",
            "due_date",
            "amount",
            "issued_at",
        )
    )
    receivables, entries = [], []
    for pk, account_id, unit_id, klass, period_start, due, amount, issued_at in rows:
        receivables.append(
            Receivable(
                bill_id=pk,
                account_id=account_id,
                unit_id=unit_id,
                customer_class=klass,
                bill_year=period_start.year,
                period=f"{period_start:%Y-%m}",
                due_date=due,
                principal=amount,
                created_at=now,
            )
        )
        entries.append(
            LedgerEntry(
                account_id=account_id,
                unit_id=unit_id,
                kind=EntryKind.BILL,
                amount=amount,
                bill_id=pk,
                occurred_on=timezone.localdate(issued_at) if issued_at else (on or timezone.localdate()),
                note=f"{period_start:%Y-%m}",
                created_at=now,
            )
        )
    Receivable.objects.bulk_create(receivables, batch_size=5000)
    LedgerEntry.objects.bulk_create(entries, batch_size=5000)
    accounts = {r.account_id for r in receivables}
    with_credit = (
        set(
            Payment.objects.filter(
                account_id__any=list(accounts), unallocated__gt=0, status=PaymentStatus.POSTED
            ).values_list("account_id", flat=True)
        )
        if accounts
        else set()
    )
    for account_id in sorted(with_credit):
        _apply_credit(_lock_account(account_id), on=on or timezone.localdate())
    return len(receivables)


def receivable_cancel(*, bill_id: int, reason: str = "", cancelled_at: datetime | None = None) -> None:
    """The bill was cancelled (作废): close its receivable. What payments paid on it goes back to them as
    credit (and pays the account's other open bills at once, the correcting bill included once issued);
    the bill and its late fee leave the balance through adjustment entries. Called inside the cancelling
    transaction; a bill that was never issued has no receivable and nothing happens."""
    r = Receivable.objects.filter(bill_id=bill_id, cancelled_at__isnull=True).first()
    if r is None:
        return
    account = _lock_account(r.account_id)
    r = Receivable.objects.select_for_update().get(pk=r.pk)
    now = cancelled_at or timezone.now()
    on = timezone.localdate(now)
    for alloc in r.allocations.filter(reversed=False):
        Payment.objects.filter(pk=alloc.payment_id).update(
            unallocated=F("unallocated") + alloc.principal + alloc.late_fee
        )
        alloc.reversed = True
        alloc.save(update_fields=["reversed"])
    fee = r.fee_charged - r.fee_waived
    entries = [
        LedgerEntry(
            account=account,
            unit_id=r.unit_id,
            kind=EntryKind.ADJUSTMENT,
            amount=-r.principal,
            bill_id=r.bill_id,
            occurred_on=on,
            note=(_("账单作废：%(r)s") % {"r": reason})[:200],
            created_at=now,
        )
    ]
    if fee:
        entries.append(
            LedgerEntry(
                account=account,
                unit_id=r.unit_id,
                kind=EntryKind.ADJUSTMENT,
                amount=-fee,
                bill_id=r.bill_id,
                occurred_on=on,
                note=_("作废账单的违约金"),
                created_at=now,
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    r.principal_paid = r.fee_paid = ZERO
    r.cancelled_at = now
    r.save(update_fields=["principal_paid", "fee_paid", "cancelled_at"])
    # Pending late-fee waivers of a cancelled bill have nothing left to waive.
    check_transition(FeeWaiver, WaiverStatus.PENDING, WaiverStatus.REJECTED)
    r.waivers.filter(status=WaiverStatus.PENDING).update(status=WaiverStatus.REJECTED, decided_at=now)
    _apply_credit(account, on=on)


# ---------------------------------------------------------------- late fee


def _set_state(r: Receivable, state: FeeState) -> None:
    r.principal_paid, r.fee_charged, r.fee_paid, r.fee_through = (
        state.principal_paid,
        state.fee_charged,
        state.fee_paid,
        state.fee_through,
    )


def _fee_entry(r: Receivable, amount: Decimal, on: date, now: datetime, *, shortfall: Decimal = ZERO) -> None:
    """Late-fee ledger entries: the accrual up to `on`, and apart from it the shortfall to the minimum."""
    entries = []
    if amount - shortfall > 0:
        note = _("%(p)s 违约金计至 %(d)s") % {"p": r.period, "d": on.isoformat()}
        entries.append((amount - shortfall, note))
    if shortfall > 0:
        entries.append((shortfall, _("%(p)s 违约金不足1元，按1元收取") % {"p": r.period}))
    for value, note in entries:
        LedgerEntry.objects.create(
            account_id=r.account_id,
            unit_id=r.unit_id,
            kind=EntryKind.LATE_FEE,
            amount=value,
            bill_id=r.bill_id,
            occurred_on=on,
            note=note,
            created_at=now,
        )


def _charge_fee(r: Receivable, as_of: date, now: datetime) -> None:
    """Charge what settling on `as_of` would (the accrued fee and any shortfall to the minimum): a waiver
    is decided on the fee as the statement shows it."""
    charge = fee_charge(fee_terms(r), fee_state(r), as_of, settle=True)
    _fee_entry(r, charge.amount, as_of, now, shortfall=charge.shortfall)
    _set_state(r, charge.state)


# ---------------------------------------------------------------- payments


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    created: bool  # False: the same (channel, transaction id) was recorded before; nothing new written


def payment_record(
    *,
    actor: Actor,
    channel: str,
    channel_txn_id: str,
    account_number: str,
    amount: Any,
    paid_at: datetime | None = None,
) -> Recorded:
    """Record a payment exactly once and allocate it (see the module docstring).

    Refused (ValidationError, nothing written): unknown channel, empty or over-long transaction id, unknown
    户号, a non-positive or non-numeric amount, or a transaction id already used for a different account or
    amount. A repeat of the same payment returns it with created=False."""
    errs: dict[str, list[str]] = {}
    if channel not in PaymentChannel.values:
        errs["channel"] = [_("未知的缴费渠道：%(c)s") % {"c": str(channel)[:20]}]
    txn = str(channel_txn_id or "").strip()
    if not txn or len(txn) > 64 or "\x00" in txn:
        errs["channel_txn_id"] = [_("渠道流水号必填，最多64个字符")]
    try:
        value = clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
        value = None
    account = Account.objects.filter(account_number=str(account_number or "").strip()).first()
    if account is None:
        errs["account_number"] = [_("户号不存在：%(n)s") % {"n": str(account_number or "")[:20]}]
    if errs:
        raise ValidationError(errs)
    paid_at = paid_at or timezone.now()
    existing = _same_payment(channel, txn, account, value)
    if existing is not None:
        return Recorded(existing, False)
    try:
        with transaction.atomic():
            return Recorded(_record(actor, channel, txn, account, value, paid_at), True)
    except IntegrityError:
        # The same notification arrived at the same moment and the other one won: answer with its payment.
        existing = _same_payment(channel, txn, account, value)
        if existing is None:
            raise
        return Recorded(existing, False)


def _same_payment(channel: str, txn: str, account: Account, amount: Decimal) -> Payment | None:
    existing = Payment.objects.filter(channel=channel, channel_txn_id=txn).first()
    if existing is None:
        return None
    if existing.account_id != account.pk or existing.amount != amount:
        raise ValidationError(
            {"channel_txn_id": [_("渠道流水号 %(t)s 已用于另一笔缴费（户号或金额不同）") % {"t": txn}]}
        )
    return existing


def _record(
    actor: Actor, channel: str, txn: str, account: Account, amount: Decimal, paid_at: datetime
) -> Payment:
    account = _lock_account(account.pk)
    now = timezone.now()
    payment = Payment.objects.create(
        account=account,
        unit_id=account.unit_id,
        channel=channel,
        channel_txn_id=txn,
        amount=amount,
        unallocated=amount,
        paid_at=paid_at,
        created_at=now,
        received_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
    )
    LedgerEntry.objects.create(
        account=account,
        unit_id=account.unit_id,
        kind=EntryKind.PAYMENT,
        amount=-amount,
        payment=payment,
        occurred_on=timezone.localdate(paid_at),
        note=f"{channel}:{txn}",
        created_at=now,
    )
    _apply_credit(account, on=timezone.localdate(paid_at), only=payment)  # keeps payment.unallocated current
    collections_on_payment(account_id=account.pk, now=paid_at)  # arrears paid off → reconnection order
    payment_receipt_enqueue(payment=payment, customer_id=account.customer_id)  # 缴费成功, commits with it
    audit_record(
        actor=actor,
        action="payment.record",
        obj=payment,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "channel": channel,
            "channel_txn_id": txn,
            "amount": str(amount),
            "account_number": account.account_number,
            "unallocated": str(payment.unallocated),
        },
    )
    return payment


def _apply_credit(account: Account, *, on: date, only: Payment | None = None) -> None:
    """Pay the account's open receivables from its payments' unallocated amounts (oldest debt first, late
    fee before principal). The caller holds the account lock."""
    payments = (
        [only]
        if only is not None
        else list(
            Payment.objects.filter(account=account, status=PaymentStatus.POSTED, unallocated__gt=0).order_by(
                "paid_at", "id"
            )
        )
    )
    # One query: receivables with principal or an already charged late fee still to pay.
    open_rs = list(Receivable.objects.filter(account=account).open().order_by("due_date", "pk"))
    now = timezone.now()
    for payment in payments:
        left = payment.unallocated
        for r in open_rs:
            if left <= 0:
                break
            step = payment_apply(fee_terms(r), fee_state(r), amount=left, on=on)
            _fee_entry(r, step.fee_charged, on, now, shortfall=step.shortfall)
            _set_state(r, step.state)
            left = step.left
            if step.late_fee or step.principal:
                Allocation.objects.create(
                    payment=payment,
                    receivable=r,
                    principal=step.principal,
                    late_fee=step.late_fee,
                    created_at=now,
                )
            r.save(update_fields=["fee_charged", "fee_paid", "principal_paid", "fee_through"])
        if left != payment.unallocated:
            Payment.objects.filter(pk=payment.pk).update(unallocated=left)
            payment.unallocated = left


def refunded_of(payment_id: int) -> Decimal:
    """What approved refunds took from a payment's credit (a reversal must not charge it again)."""
    return fen(
        RefundPart.objects.filter(payment_id=payment_id, refund__status="approved").aggregate(
            s=Sum("amount")
        )["s"]
    )


@transaction.atomic
def payment_reverse(*, actor: Actor, payment: Payment, reason: str) -> Payment:
    """Reverse a bounced or cancelled payment: its allocations are undone (the debts re-open, late fee
    accruing again from where it was charged) and a reversal entry restores the balance."""
    require_object(actor, payment, Perm.PAYMENT_REVERSE)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": [_("请填写冲正原因（最多500字）")]})
    account = _lock_account(payment.account_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatus.REVERSED:
        raise ValidationError({"__all__": [_("该笔缴费已冲正")]})
    # Credit of this payment already paid back to the customer cannot be charged to them again by a
    # reversal: refuse rather than count the refunded amount twice.
    refunded = refunded_of(payment.pk)
    if refunded:
        raise ValidationError(
            {"__all__": [_("该笔缴费已有 %(a)s 元预存退还客户，不能冲正") % {"a": refunded}]}
        )
    now = timezone.now()
    for alloc in payment.allocations.filter(reversed=False).select_related("receivable"):
        r = alloc.receivable
        Receivable.objects.filter(pk=r.pk).update(
            principal_paid=F("principal_paid") - alloc.principal, fee_paid=F("fee_paid") - alloc.late_fee
        )
        alloc.reversed = True
        alloc.save(update_fields=["reversed"])
    check_transition(Payment, payment.status, PaymentStatus.REVERSED)
    payment.status, payment.reversed_at, payment.reversal_reason, payment.unallocated = (
        PaymentStatus.REVERSED,
        now,
        reason,
        ZERO,
    )
    payment.save(update_fields=["status", "reversed_at", "reversal_reason", "unallocated"])
    LedgerEntry.objects.create(
        account_id=payment.account_id,
        unit_id=payment.unit_id,
        kind=EntryKind.REVERSAL,
        amount=payment.amount,
        payment=payment,
        occurred_on=timezone.localdate(now),
        note=reason[:200],
        created_at=now,
    )
    # The account's other credit (later payments kept as 预存) pays the re-opened debts at once, so the
    # account never shows arrears and credit side by side.
    _apply_credit(account, on=timezone.localdate(now))
    collections_on_reversal(account_id=account.pk, now=now, reason=reason)  # bounced: no reconnection on it
    audit_record(
        actor=actor,
        action="payment.reverse",
        obj=payment,
        unit_id=payment.unit_id,
        customer_id=payment.account.customer_id,
        changes={"amount": str(payment.amount), "reason": reason, "status": ["posted", "reversed"]},
    )
    return payment


# ---------------------------------------------------------------- late-fee waivers (违约金减免)


def decided_message(what: str, obj) -> str:
    """该退费申请已被钱经理审批（批准，2026-11-23 10:05）: said to the second of two approvers."""
    decision = _("批准") if obj.status == "approved" else _("驳回")
    return _("%(what)s已被%(who)s审批（%(d)s，%(t)s），不能再次审批") % {
        "what": what,
        "who": person(obj.decided_by),
        "d": decision,
        "t": when(obj.decided_at),
    }


@transaction.atomic
def waiver_request(*, actor: Actor, receivable: Receivable, amount: Any, reason: str, on: date | None = None):
    """Ask for a late-fee waiver on a bill; it takes effect only when a manager approves it."""
    require_object(actor, receivable, Perm.PAYMENT_REVERSE)
    value = clean_amount(amount)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": [_("请填写减免原因（最多500字）")]})
    r = Receivable.objects.get(pk=receivable.pk)
    owed = r.fee_charged - r.fee_waived - r.fee_paid + accrued_fee(r, on or timezone.localdate())
    if value > owed:
        raise ValidationError(
            {"amount": [_("减免金额 %(a)s 超过该账单应收违约金 %(o)s") % {"a": value, "o": owed}]}
        )
    waiver = FeeWaiver.objects.create(
        receivable=r,
        amount=value,
        reason=reason,
        requested_at=timezone.now(),
        requested_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="fee_waiver.request",
        obj=waiver,
        unit_id=r.unit_id,
        changes={"receivable": r.pk, "period": r.period, "amount": str(value), "reason": reason},
    )
    return waiver


@transaction.atomic
def waiver_decide(*, actor: Actor, waiver, approve: bool, on: date | None = None):
    """A manager approves or rejects a waiver. Approval charges the fee accrued so far, then waives the
    amount (a waiver entry lowers the balance). The requester cannot approve their own request. A waiver
    already decided (a second approver at the same moment waits on the row lock) is a Conflict (409) naming
    who decided it."""
    waiver = FeeWaiver.objects.select_for_update(of=("self",)).select_related("receivable").get(pk=waiver.pk)
    require_object(actor, waiver.receivable, Perm.FEE_WAIVE_APPROVE)
    if actor.user is None:
        raise PermissionDenied
    if waiver.requested_by_id == actor.user.pk:  # four eyes: a clear refusal, not a "not found"
        raise ValidationError({"__all__": [_("不能审批本人提交的减免申请，请由其他管理人员审批")]})
    if (
        waiver.status != WaiverStatus.PENDING and waiver.decided_by_id is None
    ):  # closed with its cancelled bill
        raise ValidationError({"__all__": [_("该减免申请已处理")]})
    if (
        waiver.status != WaiverStatus.PENDING
    ):  # another approver was first (the row lock made us wait for them)
        raise Conflict(decided_message(_("该减免申请"), waiver), holder=waiver)
    now = timezone.now()
    on = on or timezone.localdate()
    decided = WaiverStatus.APPROVED if approve else WaiverStatus.REJECTED
    check_transition(FeeWaiver, waiver.status, decided)
    waiver.status, waiver.decided_by, waiver.decided_at = (
        decided,
        actor.user,
        now,
    )
    if approve:
        _lock_account(waiver.receivable.account_id)
        r = Receivable.objects.select_for_update().get(pk=waiver.receivable_id)
        if r.cancelled_at is not None:
            raise ValidationError({"__all__": [_("该账单已作废，其违约金已一并冲销，无需减免")]})
        _charge_fee(r, on, now)
        if waiver.amount > r.fee_charged - r.fee_waived - r.fee_paid:
            raise ValidationError({"amount": [_("减免金额超过该账单尚未缴纳的违约金")]})
        r.fee_waived += waiver.amount
        r.save(update_fields=["fee_charged", "fee_waived", "fee_through"])
        LedgerEntry.objects.create(
            account_id=r.account_id,
            unit_id=r.unit_id,
            kind=EntryKind.WAIVER,
            amount=-waiver.amount,
            bill_id=r.bill_id,
            occurred_on=on,
            note=waiver.reason[:200],
            created_at=now,
        )
    waiver.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="fee_waiver.approve" if approve else "fee_waiver.reject",
        obj=waiver,
        unit_id=waiver.receivable.unit_id,
        changes={
            "amount": str(waiver.amount),
            "requested_by": waiver.requested_by_id,
            "status": waiver.status,
        },
    )
    return waiver
