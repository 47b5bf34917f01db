"""Payments API.

- `GET /accounts/{户号}/statement?as_of=YYYY-MM-DD`: each open bill (period, class, due date, outstanding
  principal, late fee accrued as of the date) and the totals; staff of the account's unit, or the portal
  user the account is bound to. Unknown or not visible → 404.
- `POST /payments` (cashiers): record a counter payment; the (channel, transaction id) pair is unique, so a
  retry answers 200 with the payment already recorded. An `Idempotency-Key` header replays the first answer.
"""

import re
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Text, api_actor, require_perm
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm, Role
from gridcare.core.validators import BoundedDate
from gridcare.customers.selectors import accounts_visible

from . import counter, reports, selectors
from .choices import PaymentChannel

router = Router(tags=["payments"])

STAFF_CHANNELS = (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CARD)


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


def _account_for(request, account_number: str):
    user = request.user
    if getattr(user, "role", None) == Role.CUSTOMER:
        from gridcare.portal.selectors import portal_accounts

        account = portal_accounts(user=user).filter(account_number=account_number).first()
    else:
        account = accounts_visible(user=user).filter(account_number=account_number).first()
    if account is None:
        raise Http404
    return account


@router.get("/accounts/{account_number}/statement", response={200: AccountStatementOut, **READ_ERRORS})
def account_statement(request, account_number: str, as_of: BoundedDate | None = None):
    """Open bills with the late fee accrued as of `as_of` (default today)."""
    account = _account_for(request, account_number)
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


@router.post("/payments", response={201: PaymentOut, 200: PaymentOut, **WRITE_ERRORS})
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


class CollectionOut(Schema):
    unit_id: int
    unit_name: str
    bills: int
    billed: Decimal
    collected: Decimal
    rate_percent: Decimal


class AgeingOut(Schema):
    bucket: str
    bills: int
    amount: Decimal


class ChannelOut(Schema):
    channel: str
    payments: int
    amount: Decimal


@router.get("/reports/collection-rate", response={200: list[CollectionOut], **LIST_ERRORS}, tags=["reports"])
def report_collection_rate(request, period: str):
    """电费回收率 by unit for a billing month (`period` YYYY-MM): principal billed, collected so far, rate in %."""
    require_perm(request, Perm.STATS_VIEW)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValidationError({"period": [_("账期格式应为 YYYY-MM")]})
    return [
        {
            "unit_id": r.unit_id,
            "unit_name": r.unit_name,
            "bills": r.bills,
            "billed": r.billed,
            "collected": r.collected,
            "rate_percent": r.rate,
        }
        for r in reports.collection_rate(user=request.user, period=period)
    ]


@router.get("/reports/arrears-ageing", response={200: list[AgeingOut], **LIST_ERRORS}, tags=["reports"])
def report_arrears_ageing(request, as_of: BoundedDate | None = None):
    """Outstanding principal by days past due: 0–30, 31–90, 91–365, over 365."""
    require_perm(request, Perm.STATS_VIEW)
    return reports.arrears_ageing(user=request.user, as_of=as_of or timezone.localdate())


@router.get("/reports/channel-mix", response={200: list[ChannelOut], **LIST_ERRORS}, tags=["reports"])
def report_channel_mix(request, date_from: BoundedDate, date_to: BoundedDate):
    """Posted payments by channel between two dates (inclusive)."""
    require_perm(request, Perm.STATS_VIEW)
    if date_to < date_from:
        raise ValidationError({"date_to": [_("结束日期不能早于开始日期")]})
    return reports.channel_mix(user=request.user, date_from=date_from, date_to=date_to)
