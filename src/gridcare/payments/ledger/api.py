"""Ledger, statement, reversal and late-fee waiver API (issue 4 §4, §5).

- `GET /accounts/{户号}/statement?as_of=YYYY-MM-DD`: each open bill (period, class, due date, outstanding
  principal, late fee accrued as of the date) and the totals; staff of the account's unit, or the portal
  user the account is bound to. Unknown or not visible → 404.
- `GET /accounts/{户号}/ledger`: the account's ledger entries oldest first with the running balance, the
  open bills (with the late fee owed as of `as_of`, default today) and the balance. Staff who may view the
  account's unit (customer.view); anything else is 404.
- `POST /payments/{id}/reverse` (payment.reverse): reverse a posted payment with a reason; the debts it paid
  re-open. `Idempotency-Key` replays the first answer; reversing twice is refused (422).
- `POST /receivables/{id}/waivers` (payment.reverse): ask for a late-fee waiver (≤ the fee owed today).
- `GET /waivers?status=pending`: waivers of the caller's units (approvers and requesters; 403 for others).
- `POST /waivers/{id}/decide` (fee.waive_approve): approve or reject; the requester cannot decide their own.
"""

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from gridcare.core.api import (
    CONFLICT_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Text,
    api_actor,
    require_object_perm,
    require_perm,
)
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm
from gridcare.core.validators import BoundedDate

from . import selectors as ledger_selectors
from . import services
from . import statement as selectors

router = Router(tags=["payments"])


class EntryOut(Schema):
    id: int
    occurred_on: date
    kind: str
    kind_label: str
    amount: Decimal
    balance: Decimal = Field(..., description="本笔之后的账户余额（正数为欠费，负数为预存）")
    note: str
    bill_id: int | None
    payment_id: int | None


class OpenBillOut(Schema):
    receivable_id: int
    period: str
    due_date: date
    principal: Decimal
    principal_outstanding: Decimal
    late_fee_owed: Decimal = Field(..., description="已计未缴违约金 + 截至 as_of 新增违约金")
    days_overdue: int


class LedgerOut(Schema):
    account_number: str
    as_of: date
    balance: Decimal
    amount_due: Decimal
    entries: list[EntryOut]
    open_bills: list[OpenBillOut]


@router.get("/accounts/{account_number}/ledger", response={200: LedgerOut, **READ_ERRORS})
def account_ledger(request, account_number: str, as_of: BoundedDate | None = None):
    """Ledger entries with the running balance and the open bills as of `as_of` (default today)."""
    led = ledger_selectors.account_ledger(
        user=request.user, account_number=account_number, as_of=as_of or timezone.localdate()
    )
    return {
        "account_number": led.account.account_number,
        "as_of": led.as_of,
        "balance": led.balance,
        "amount_due": led.amount_due,
        "entries": [
            {
                "id": r.entry.pk,
                "occurred_on": r.entry.occurred_on,
                "kind": r.entry.kind,
                "kind_label": str(r.entry.get_kind_display()),
                "amount": r.entry.amount,
                "balance": r.balance,
                "note": r.entry.note,
                "bill_id": r.entry.bill_id,
                "payment_id": r.entry.payment_id,
            }
            for r in led.entries
        ],
        "open_bills": [
            {
                "receivable_id": o.receivable.pk,
                "period": o.receivable.period,
                "due_date": o.receivable.due_date,
                "principal": o.receivable.principal,
                "principal_outstanding": o.principal_outstanding,
                "late_fee_owed": o.fee_owed,
                "days_overdue": o.days_overdue,
            }
            for o in led.receivables
        ],
    }


class ReverseIn(Schema):
    reason: Text = Field(..., max_length=500, examples=["银行退票"])


class ReversedOut(Schema):
    id: int
    account_number: str
    channel: str
    channel_txn_id: str
    amount: Decimal
    status: str
    reversed_at: datetime | None
    reversal_reason: str


@router.post("/payments/{payment_id}/reverse", response={200: ReversedOut, **WRITE_ERRORS})
@idempotent
def payment_reverse(request, payment_id: int, payload: ReverseIn):
    """Reverse a posted payment (payment.reverse of its unit); its allocations are undone."""
    require_object_perm(request, Perm.PAYMENT_REVERSE)
    payment = ledger_selectors.payment_for_reversal(user=request.user, pk=payment_id)
    p = services.payment_reverse(actor=api_actor(request), payment=payment, reason=payload.reason)
    return {
        "id": p.pk,
        "account_number": payment.account.account_number,
        "channel": p.channel,
        "channel_txn_id": p.channel_txn_id,
        "amount": p.amount,
        "status": p.status,
        "reversed_at": p.reversed_at,
        "reversal_reason": p.reversal_reason,
    }


class WaiverIn(Schema):
    amount: Text = Field(..., max_length=20, examples=["2.00"])
    reason: Text = Field(..., max_length=500)


class DecisionIn(Schema):
    approve: bool


class WaiverOut(Schema):
    id: int
    receivable_id: int
    account_number: str
    period: str
    amount: Decimal
    reason: str
    status: str
    requested_by: str | None
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def _waiver_out(w, account_number: str) -> dict:
    return {
        "id": w.pk,
        "receivable_id": w.receivable_id,
        "account_number": account_number,
        "period": w.receivable.period,
        "amount": w.amount,
        "reason": w.reason,
        "status": w.status,
        "requested_by": w.requested_by.get_username() if w.requested_by else None,
        "requested_at": w.requested_at,
        "decided_by": w.decided_by.get_username() if w.decided_by else None,
        "decided_at": w.decided_at,
    }


@router.post("/receivables/{receivable_id}/waivers", response={201: WaiverOut, **WRITE_ERRORS})
@idempotent
def waiver_create(request, receivable_id: int, payload: WaiverIn):
    """Ask for a late-fee waiver on one bill (payment.reverse); it takes effect once a manager approves."""
    require_object_perm(request, Perm.PAYMENT_REVERSE)
    r = ledger_selectors.receivable_for_waiver(user=request.user, pk=receivable_id)
    w = services.waiver_request(
        actor=api_actor(request),
        receivable=r,
        amount=payload.amount,
        reason=payload.reason,
        on=timezone.localdate(),
    )
    return Status(201, _waiver_out(w, r.account.account_number))


@router.get("/waivers", response={200: list[WaiverOut], **LIST_ERRORS})
def waiver_list(request, status: Text = "pending"):
    """Waivers of the caller's units with the given status (pending, approved, rejected), oldest first."""
    require_perm(request, Perm.FEE_WAIVE_APPROVE, Perm.PAYMENT_REVERSE)
    if status not in ("pending", "approved", "rejected"):
        raise ValidationError({"status": [_("状态应为 pending、approved 或 rejected")]})
    qs = (
        ledger_selectors.waivers_visible(user=request.user)
        .filter(status=status)
        .order_by("requested_at", "id")
    )
    return [_waiver_out(w, w.receivable.account.account_number) for w in qs[:500]]


@router.post("/waivers/{waiver_id}/decide", response={200: WaiverOut, **WRITE_ERRORS, **CONFLICT_ERRORS})
@idempotent
def waiver_decide(request, waiver_id: int, payload: DecisionIn):
    """Approve or reject a pending waiver (fee.waive_approve of its unit); not one's own request (422)."""
    require_object_perm(request, Perm.FEE_WAIVE_APPROVE)
    w = ledger_selectors.waiver_for_decision(user=request.user, pk=waiver_id)
    w = services.waiver_decide(
        actor=api_actor(request), waiver=w, approve=payload.approve, on=timezone.localdate()
    )
    return _waiver_out(w, w.receivable.account.account_number)


class StatementLineOut(Schema):
    period: str
    customer_class: str
    due_date: date
    principal: Decimal
    principal_outstanding: Decimal
    late_fee: Decimal
    days_overdue: int
    total: Decimal


class AccountStatementOut(Schema):
    account_number: str
    as_of: date
    bills: list[StatementLineOut]
    principal_outstanding: Decimal
    late_fee: Decimal
    amount_due: Decimal
    credit: Decimal


@router.get("/accounts/{account_number}/statement", response={200: AccountStatementOut, **READ_ERRORS})
def account_statement(request, account_number: str, as_of: BoundedDate | None = None):
    """Open bills with the late fee accrued as of `as_of` (default today)."""
    account = ledger_selectors.account_for(request.user, account_number)
    st = selectors.statement(account, as_of or timezone.localdate())
    return {
        "account_number": st.account_number,
        "as_of": st.as_of,
        "bills": [
            {
                "period": ln.period,
                "customer_class": ln.customer_class,
                "due_date": ln.due_date,
                "principal": ln.principal,
                "principal_outstanding": ln.principal_outstanding,
                "late_fee": ln.late_fee,
                "days_overdue": ln.days_overdue,
                "total": ln.total,
            }
            for ln in st.lines
        ],
        "principal_outstanding": st.principal_outstanding,
        "late_fee": st.late_fee,
        "amount_due": st.amount_due,
        "credit": st.credit,
    }
