"""Prepaid accounts API (预存 / 智能交费).

- `GET /accounts/{户号}/prepaid?as_of=YYYY-MM-DD`: enrolment, thresholds, alert state and the balance
  estimate as of the day (computed on the spot, default today); staff of the account's unit or the portal
  user the account is bound to. Not enrolled: `enrolled: false`, no estimate. Unknown or not visible → 404.
- `PUT /accounts/{户号}/prepaid` (customer.edit): enrol, or change the thresholds; the same body again
  changes nothing.
- `DELETE /accounts/{户号}/prepaid` (customer.edit): unenrol → 204 (again → 204; never enrolled → 422).
- `GET /prepaid-accounts?alert_state=low&max_days=7&q=31`: enrolled accounts of the caller's units with
  their latest stored estimate (the daily run), paged.
"""

from datetime import date
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_object_perm,
    require_perm,
)
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404
from gridcare.core.validators import BoundedDate
from gridcare.customers.selectors import accounts_visible
from gridcare.payments.choices import PrepaidAlertState
from gridcare.payments.ledger.selectors import account_for

from . import services as prepaid

router = Router(tags=["prepaid"])


class EstimateOut(Schema):
    as_of: date
    available: Decimal = Field(..., description="可用余额：预存减欠费（账上余额取反）")
    billed_amount: Decimal = Field(..., description="最近3期已发行账单电费合计")
    billed_days: int = Field(..., description="这3期账单覆盖的天数")
    daily_cost: Decimal | None = Field(None, description="日均电费（四舍五入到分）；尚无账单时为空")
    last_billed_on: date | None
    spend_since: Decimal = Field(..., description="最近账单截止日之后估算已用电费")
    remaining: Decimal = Field(..., description="估算剩余余额")
    days_left: int | None = Field(None, description="预计可用天数（向下取整）；无日均电费时为空")
    is_low: bool


class PrepaidOut(Schema):
    account_number: str
    enrolled: bool
    enrolled_on: date | None = None
    threshold: Decimal | None = None
    threshold_days: int | None = None
    alert_state: str | None = None
    alert_changed_on: date | None = None
    estimate: EstimateOut | None = None


class PrepaidIn(Schema):
    threshold: Text = Field("50.00", max_length=20, description="余额提醒阈值（元），默认 50.00")
    threshold_days: int | None = Field(None, description="可用天数提醒阈值（1–365 天），空为不按天数提醒")


def _estimate_out(e: prepaid.Estimate | None, as_of: date) -> dict | None:
    if e is None:
        return None
    return {
        "as_of": as_of,
        "available": e.available,
        "billed_amount": e.billed_amount,
        "billed_days": e.billed_days,
        "daily_cost": e.daily_cost,
        "last_billed_on": e.last_billed_on,
        "spend_since": e.spend_since,
        "remaining": e.remaining,
        "days_left": e.days_left,
        "is_low": e.is_low,
    }


def _prepaid_out(account, as_of: date) -> dict:
    p = prepaid.prepaid_of(account)
    if p is None or not p.enrolled:
        return {"account_number": account.account_number, "enrolled": False}
    return {
        "account_number": account.account_number,
        "enrolled": True,
        "enrolled_on": p.enrolled_on,
        "threshold": p.threshold,
        "threshold_days": p.threshold_days,
        "alert_state": p.alert_state,
        "alert_changed_on": p.alert_changed_on,
        "estimate": _estimate_out(prepaid.prepaid_estimate_live(account, today=as_of), as_of),
    }


@router.get("/accounts/{account_number}/prepaid", response={200: PrepaidOut, **READ_ERRORS})
def prepaid_get(request, account_number: str, as_of: BoundedDate | None = None):
    """Prepaid enrolment and the balance estimate as of `as_of` (default today)."""
    account = account_for(request.user, account_number)
    return _prepaid_out(account, as_of or timezone.localdate())


def _staff_account(request, account_number: str):
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    account = get_or_404(accounts_visible(user=request.user), account_number=account_number)
    return account


@router.put("/accounts/{account_number}/prepaid", response={200: PrepaidOut, **WRITE_ERRORS})
@idempotent
def prepaid_put(request, account_number: str, payload: PrepaidIn):
    """Enrol the account in prepaid (开通智能交费) or change its thresholds."""
    account = _staff_account(request, account_number)
    prepaid.prepaid_enrol(
        actor=api_actor(request),
        account=account,
        threshold=payload.threshold,
        threshold_days=payload.threshold_days,
    )
    return _prepaid_out(account, timezone.localdate())


@router.delete("/accounts/{account_number}/prepaid", response={204: None, **WRITE_ERRORS})
@idempotent
def prepaid_delete(request, account_number: str):
    """Unenrol the account (取消智能交费)."""
    account = _staff_account(request, account_number)
    prepaid.prepaid_unenrol(actor=api_actor(request), account=account)
    return Status(204, None)


class PrepaidRowOut(Schema):
    account_number: str
    enrolled_on: date
    threshold: Decimal
    threshold_days: int | None
    alert_state: str
    estimated_on: date | None
    available: Decimal | None
    daily_cost: Decimal | None
    remaining: Decimal | None
    days_left: int | None


class PrepaidPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[PrepaidRowOut]


class PrepaidFilter(Schema):
    alert_state: PrepaidAlertState | None = Field(None, description="armed 余额充足 / low 余额不足")
    max_days: int | None = Field(None, ge=0, le=100000, description="预计可用天数不超过")
    q: Text = Field("", max_length=10, description="户号前缀")


def _row(p) -> dict:
    e = p.last_estimate
    return {
        "account_number": p.account.account_number,
        "enrolled_on": p.enrolled_on,
        "threshold": p.threshold,
        "threshold_days": p.threshold_days,
        "alert_state": p.alert_state,
        "estimated_on": e and e.estimated_on,
        "available": e and e.available,
        "daily_cost": e and e.daily_cost,
        "remaining": e and e.remaining,
        "days_left": e and e.days_left,
    }


@router.get("/prepaid-accounts", response={200: PrepaidPage, **LIST_ERRORS})
def prepaid_list(request, filters: Query[PrepaidFilter], paging: Query[PageParams]):
    """Enrolled prepaid accounts of the caller's units with their latest daily estimate (customer.view)."""
    require_perm(request, Perm.CUSTOMER_VIEW)
    qs = prepaid.prepaid_search(
        user=request.user,
        alert_state=filters.alert_state or "",
        max_days=filters.max_days,
        q=filters.q.strip(),
    )
    return paginate(qs, paging, _row)
