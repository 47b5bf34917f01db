"""Counter API: cashier shifts, the till close, the daily close sheet (日结单) and refunds (退费).

- `POST /shifts` (payment.record): open the caller's shift; `GET /shifts`, `GET /shifts/{id}`: a
  supervisor (stats.view) sees every shift of their units, a cashier only their own.
- `POST /shifts/{id}/close`: the till close; an unbalanced close answers 422 with expected, declared and
  the difference per channel, and nothing is written.
- `GET /shifts/daily-sheet?unit_id=&day=`: 日结单 of a unit and a day.
- `POST /refunds` (payment.record or payment.reverse), `GET /refunds?status=`, `GET /refunds/{id}`,
  `POST /refunds/{id}/decide` (refund.approve, never the requester).
- `POST /payments/{id}/refunds` (payment.record or payment.reverse): ask to refund part or all of an Alipay or
  WeChat payment to its original channel (原路退回); approving it sends it to the channel, and the decision's
  answer carries what the channel said (`channel_message`).
- `POST /payments` (cashiers): record a counter payment; the (channel, transaction id) pair is unique, so a
  retry answers 200 with the payment already recorded.
The POSTs accept an `Idempotency-Key` header.
"""

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from gridcare.core.api import (
    CONFLICT_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    Text,
    api_actor,
    require_perm,
)
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404, may_act_on_unit
from gridcare.core.validators import BoundedDate
from gridcare.customers.selectors import accounts_visible
from gridcare.payments.choices import PaymentChannel, RefundMethod
from gridcare.payments.ledger import payment_refunds, refunds
from gridcare.payments.ledger.selectors import payment_for_refund

from . import services as counter

router = Router(tags=["counter"])


class ShiftIn(Schema):
    counter: Text = Field(..., max_length=40, examples=["城东营业厅1号窗口"])
    opening_float: Text = Field("0", max_length=20, examples=["500.00"])


class ShiftOut(Schema):
    id: int
    unit_id: int
    cashier: str
    counter: str
    opening_float: Decimal
    status: str
    opened_at: datetime
    closed_at: datetime | None
    expected_cash: Decimal
    expected_card: Decimal
    payments: int
    declared_cash: Decimal | None
    declared_card: Decimal | None


def _shift_out(s, totals: counter.Totals | None = None) -> dict:
    if s.status == "open":
        t = totals or counter.shift_totals([s.pk])[s.pk]
        cash, card, n = t.cash, t.card, t.count
    else:
        cash, card, n = s.expected_cash, s.expected_card, s.payments_count
    return {
        "id": s.pk,
        "unit_id": s.unit_id,
        "cashier": s.cashier.get_username(),
        "counter": s.counter,
        "opening_float": s.opening_float,
        "status": s.status,
        "opened_at": s.opened_at,
        "closed_at": s.closed_at,
        "expected_cash": cash,
        "expected_card": card,
        "payments": n,
        "declared_cash": s.declared_cash,
        "declared_card": s.declared_card,
    }


def _shift_get(request, shift_id: int):
    s = get_or_404(counter.shifts_visible(user=request.user), pk=shift_id)
    return s


@router.post("/shifts", response={201: ShiftOut, **WRITE_ERRORS})
@idempotent
def shift_open(request, payload: ShiftIn):
    """Open the caller's cashier shift (at most one open per cashier)."""
    require_perm(request, Perm.PAYMENT_RECORD)
    s = counter.shift_open(
        actor=api_actor(request), counter=payload.counter, opening_float=payload.opening_float
    )
    return Status(201, _shift_out(s, counter.Totals()))


@router.get("/shifts", response={200: list[ShiftOut], **LIST_ERRORS})
def shift_list(request, status: str = "", day: BoundedDate | None = None):
    """Shifts the caller may see, newest first (at most 200); `day` filters on the opening day."""
    require_perm(request, Perm.PAYMENT_RECORD, Perm.STATS_VIEW)
    qs = counter.shifts_visible(user=request.user)
    if status:
        qs = qs.filter(status=status)
    if day:
        start, end = counter._day_range(day)
        qs = qs.filter(opened_at__gte=start, opened_at__lt=end)
    shifts = list(qs[:200])
    totals = counter.shift_totals([s.pk for s in shifts if s.status == "open"])
    return [_shift_out(s, totals.get(s.pk)) for s in shifts]


class SheetShiftOut(Schema):
    id: int
    cashier: str
    counter: str
    status: str
    payments: int
    expected_cash: Decimal
    declared_cash: Decimal | None
    diff_cash: Decimal | None = Field(..., description="申报 − 应收；未日结为空")
    expected_card: Decimal
    declared_card: Decimal | None
    diff_card: Decimal | None


class SheetReversalOut(Schema):
    payment_id: int
    shift_id: int
    channel: str
    channel_txn_id: str
    amount: Decimal = Field(..., description="负数：日结后冲正的金额")
    reason: str


class SheetTerminalOut(Schema):
    code: str
    payments: int
    amount: Decimal


class SheetTotalsOut(Schema):
    payments: int
    expected_cash: Decimal
    declared_cash: Decimal
    expected_card: Decimal
    declared_card: Decimal
    reversals: Decimal
    terminals: Decimal
    net: Decimal = Field(..., description="柜台应收 + 冲正 + 终端")
    open_shifts: int


class DailySheetOut(Schema):
    unit_id: int
    unit_name: str
    day: date
    shifts: list[SheetShiftOut]
    reversals: list[SheetReversalOut]
    terminals: list[SheetTerminalOut]
    totals: SheetTotalsOut


@router.get("/shifts/daily-sheet", response={200: DailySheetOut, **LIST_ERRORS, 404: ErrorOut})
def shift_daily_sheet(request, day: BoundedDate | None = None, unit_id: int | None = None):
    """日结单: shifts opened that day with expected/declared/difference, totals, reversals after a close,
    terminal totals."""
    require_perm(request, Perm.PAYMENT_RECORD, Perm.STATS_VIEW)
    from gridcare.org.models import SupplyUnit

    uid = unit_id or request.user.unit_id
    if not any(may_act_on_unit(request.user, uid, p) for p in (Perm.PAYMENT_RECORD, Perm.STATS_VIEW)):
        raise Http404
    sheet = counter.daily_sheet(
        user=request.user, unit=SupplyUnit.objects.get(pk=uid), day=day or timezone.localdate()
    )
    return sheet_dict(sheet)


def sheet_dict(sheet: counter.DailySheet) -> dict:
    return {
        "unit_id": sheet.unit.pk,
        "unit_name": sheet.unit.name,
        "day": sheet.day,
        "shifts": [
            {
                "id": s.shift.pk,
                "cashier": s.shift.cashier.get_username(),
                "counter": s.shift.counter,
                "status": s.shift.status,
                "payments": s.count,
                "expected_cash": s.expected_cash,
                "declared_cash": s.declared_cash,
                "diff_cash": s.diff_cash,
                "expected_card": s.expected_card,
                "declared_card": s.declared_card,
                "diff_card": s.diff_card,
            }
            for s in sheet.shifts
        ],
        "reversals": [
            {
                "payment_id": r.payment.pk,
                "shift_id": r.payment.shift_id,
                "channel": r.payment.channel,
                "channel_txn_id": r.payment.channel_txn_id,
                "amount": r.amount,
                "reason": r.payment.reversal_reason,
            }
            for r in sheet.reversals
        ],
        "terminals": [
            {"code": t.terminal.code, "payments": t.count, "amount": t.amount} for t in sheet.terminals
        ],
        "totals": {
            "payments": sheet.count,
            "expected_cash": sheet.expected_cash,
            "declared_cash": sheet.declared_cash,
            "expected_card": sheet.expected_card,
            "declared_card": sheet.declared_card,
            "reversals": sheet.reversal_total,
            "terminals": sheet.terminal_total,
            "net": sheet.net_total,
            "open_shifts": sheet.open_shifts,
        },
    }


@router.get("/shifts/{shift_id}", response={200: ShiftOut, **READ_ERRORS})
def shift_detail(request, shift_id: int):
    return _shift_out(_shift_get(request, shift_id))


class ShiftCloseIn(Schema):
    declared_cash: Text = Field(..., max_length=20, description="清点现金（不含备用金）")
    declared_card: Text = Field(..., max_length=20, description="刷卡汇总")


@router.post("/shifts/{shift_id}/close", response={200: ShiftOut, **WRITE_ERRORS, **CONFLICT_ERRORS})
@idempotent
def shift_close(request, shift_id: int, payload: ShiftCloseIn):
    """Till close (日结) of the caller's own open shift; refused unless cash and card balance."""
    s = _shift_get(request, shift_id)
    s = counter.shift_close(
        actor=api_actor(request),
        shift=s,
        declared_cash=payload.declared_cash,
        declared_card=payload.declared_card,
    )
    return _shift_out(s)


# ---------------------------------------------------------------- refunds


class RefundIn(Schema):
    account_number: Text = Field(..., max_length=10)
    amount: Text = Field(..., max_length=20)
    reason: Text = Field(..., max_length=500)
    method: Text = Field(RefundMethod.CASH, max_length=16)


class RefundOut(Schema):
    id: int
    account_number: str
    amount: Decimal
    reason: str
    method: str
    status: str
    requested_by: str | None
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    payment_id: int | None = Field(None, description="原路退回：退款的那笔缴费")
    refund_no: str | None = Field(None, description="原路退回：退款单号（渠道据此去重）")
    origin: str = Field("staff", description="staff：营业人员申请；channel：渠道侧退款")
    channel_status: str = Field("", description="原路退回的渠道状态：processing / success / failed")
    channel_status_label: str = ""
    channel_refund_id: str = ""
    refunded_at: datetime | None = None
    channel_message: str = Field("", description="审批后渠道的答复（仅审批接口）")


class PaymentRefundIn(Schema):
    amount: Text = Field(..., max_length=20, examples=["25.00"])
    reason: Text = Field(..., max_length=500, examples=["重复缴费"])


class RefundDecideIn(Schema):
    approve: bool
    note: Text = Field("", max_length=200)


def _refund_out(r) -> dict:
    return {
        "id": r.pk,
        "account_number": r.account.account_number,
        "amount": r.amount,
        "reason": r.reason,
        "method": r.method,
        "status": r.status,
        "requested_by": r.requested_by.get_username() if r.requested_by else None,
        "requested_at": r.requested_at,
        "decided_by": r.decided_by.get_username() if r.decided_by else None,
        "decided_at": r.decided_at,
        "decision_note": r.decision_note,
        "payment_id": r.payment_id,
        "refund_no": r.refund_no,
        "origin": r.origin,
        "channel_status": r.channel_status,
        "channel_status_label": r.channel_status_label,
        "channel_refund_id": r.channel_refund_id,
        "refunded_at": r.refunded_at,
    }


def _may_request(request) -> None:
    require_perm(request, Perm.PAYMENT_RECORD, Perm.PAYMENT_REVERSE)


@router.post("/refunds", response={201: RefundOut, **WRITE_ERRORS})
@idempotent
def refund_create(request, payload: RefundIn):
    """Ask for a refund of an account's credit balance (at most the credit less pending refunds)."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    _may_request(request)
    account = accounts_visible(user=request.user).filter(account_number=payload.account_number).first()
    if account is None:
        raise ValidationError({"account_number": [_("户号不存在：%(n)s") % {"n": payload.account_number}]})
    r = refunds.refund_request(
        actor=api_actor(request),
        account=account,
        amount=payload.amount,
        reason=payload.reason,
        method=payload.method,
    )
    return Status(201, _refund_out(refunds.refunds_visible(user=request.user).get(pk=r.pk)))


@router.get("/refunds", response={200: list[RefundOut], **LIST_ERRORS})
def refund_list(request, status: Text = ""):
    """Refunds of the caller's units, newest first (at most 200)."""
    if not has_perm(request.user, Perm.REFUND_APPROVE):
        _may_request(request)
    qs = refunds.refunds_visible(user=request.user)
    if status:
        qs = qs.filter(status=status)
    return [_refund_out(r) for r in qs[:200]]


@router.post("/refunds/{refund_id}/decide", response={200: RefundOut, **WRITE_ERRORS, **CONFLICT_ERRORS})
@idempotent
def refund_decide(request, refund_id: int, payload: RefundDecideIn):
    """Approve or reject a pending refund (refund.approve of the unit; never the requester → 404)."""
    r = refunds.refunds_visible(user=request.user).filter(pk=refund_id).first()
    if r is None or not has_perm(request.user, Perm.REFUND_APPROVE):
        raise Http404
    decided = payment_refunds.refund_decide_and_send(
        actor=api_actor(request), refund=r, approve=payload.approve, note=payload.note
    )
    out = _refund_out(refunds.refunds_visible(user=request.user).get(pk=r.pk))
    return {**out, "channel_message": decided.message if decided.sent else ""}


@router.get("/refunds/{refund_id}", response={200: RefundOut, **READ_ERRORS, 403: ErrorOut})
def refund_detail(request, refund_id: int):
    """One refund of the caller's units (approvers and the staff who may ask); anything else 404."""
    if not has_perm(request.user, Perm.REFUND_APPROVE):
        _may_request(request)
    return _refund_out(get_or_404(refunds.refunds_visible(user=request.user), pk=refund_id))


@router.post("/payments/{payment_id}/refunds", response={201: RefundOut, **WRITE_ERRORS})
@idempotent
def payment_refund_create(request, payment_id: int, payload: PaymentRefundIn):
    """Ask to refund part or all of one Alipay or WeChat payment to its original channel (原路退回): at most
    the payment less its earlier refunds; pending a manager's approval."""
    _may_request(request)
    payment = payment_for_refund(user=request.user, pk=payment_id)
    r = payment_refunds.payment_refund_request(
        actor=api_actor(request), payment=payment, amount=payload.amount, reason=payload.reason
    )
    return Status(201, _refund_out(refunds.refunds_visible(user=request.user).get(pk=r.pk)))


STAFF_CHANNELS = (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CARD)


class PaymentIn(Schema):
    account_number: Text = Field(..., max_length=10, examples=["3100000001"])
    amount: Text = Field(..., max_length=20, examples=["120.50"])
    channel: Text = Field(PaymentChannel.COUNTER_CASH, max_length=16)
    channel_txn_id: Text = Field(..., max_length=64, description="收据号/POS 流水号，渠道内唯一")


class PaymentOut(Schema):
    id: int
    account_number: str
    channel: str
    channel_txn_id: str
    amount: Decimal
    unallocated: Decimal
    status: str
    paid_at: datetime
    created: bool


def _payment_out(rec) -> dict:
    p = rec.payment
    return {
        "id": p.pk,
        "account_number": p.account.account_number,
        "channel": p.channel,
        "channel_txn_id": p.channel_txn_id,
        "amount": p.amount,
        "unallocated": p.unallocated,
        "status": p.status,
        "paid_at": p.paid_at,
        "created": rec.created,
    }


@router.post("/payments", tags=["payments"], response={201: PaymentOut, 200: PaymentOut, **WRITE_ERRORS})
@idempotent
def payment_create(request, payload: PaymentIn):
    """Record a counter payment (cashiers). A repeat of the same channel transaction id answers 200 with
    the payment already recorded; a different account or amount under that id is refused (422). The cashier
    needs an open shift, which the payment is linked to (`counter.counter_payment_record`)."""
    require_perm(request, Perm.PAYMENT_RECORD)
    if payload.channel not in STAFF_CHANNELS:
        raise ValidationError({"channel": [_("柜台只能登记柜台现金或刷卡缴费")]})
    account = accounts_visible(user=request.user).filter(account_number=payload.account_number).first()
    if account is None:
        raise ValidationError({"account_number": [_("户号不存在：%(n)s") % {"n": payload.account_number}]})
    rec = counter.counter_payment_record(
        actor=api_actor(request),
        channel=payload.channel,
        channel_txn_id=payload.channel_txn_id,
        account_number=account.account_number,
        amount=payload.amount,
    )
    if rec.created:
        return Status(201, _payment_out(rec))
    return Status(200, _payment_out(rec))
