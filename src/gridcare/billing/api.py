"""Billing API: the public tariff list and quote (电费试算), and admin-only tariff version upkeep.

- `POST /billing/quote` (no login, rate-limited per client like the public 户号 query → 429): the
  lines and total a real bill would carry, from the same engine. Bad input → 422 with field names
  (`tariff_code`, `kwh.total`, `period_end`, `capacity_kva`, `power_factor`, …).
- `GET /billing/tariffs` (no login): the catalogue with each tariff's current version.
- `POST /billing/tariffs/{code}/versions`: company admins only (403 for other roles, 401 anonymous);
  overlap or bad prices → 422. Audited as `tariff_version.create`.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core import ratelimit
from gridcare.core.api import (
    CONFLICT_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    Text,
    ValidationErrorOut,
    api_actor,
    require_perm,
)
from gridcare.core.permissions import Perm
from gridcare.jobs.services import BrokerUnavailable

from . import selectors, services
from .models import Tariff, TariffVersion
from .rating import RatingResult

router = Router(tags=["billing"])


class KwhIn(Schema):
    total: Decimal | None = Field(None, description="总电量 kWh（不分时电价）")
    sharp: Decimal | None = Field(None, description="尖峰电量 kWh")
    peak: Decimal | None = Field(None, description="高峰电量 kWh")
    flat: Decimal | None = Field(None, description="平段电量 kWh")
    valley: Decimal | None = Field(None, description="低谷电量 kWh")


class QuoteIn(Schema):
    tariff_code: Text = Field(..., max_length=32, examples=["RES-TIER"])
    period_start: date
    period_end: date
    kwh: KwhIn
    ytd_kwh_before: Decimal | None = Field(None, description="本年度此前累计电量（年阶梯）")
    capacity_kva: Decimal | None = Field(None, description="受电容量 kVA（两部制按容量）")
    max_demand_kw: Decimal | None = Field(None, description="最大需量 kW（两部制按需量）")
    power_factor: Decimal | None = Field(None, description="实际功率因数（力调电费）")


class LineOut(Schema):
    code: str
    label: str
    quantity: str
    unit_price: str
    amount: str
    part_start: date
    part_end: date
    note: str


class PartOut(Schema):
    start: date
    end: date
    days: int
    kwh: str
    ytd_before: str


class QuoteOut(Schema):
    tariff_code: str
    tariff_name: str
    period_start: date
    period_end: date
    lines: list[LineOut]
    parts: list[PartOut]
    total: str = Field(..., description="合计（元），各行四舍五入到分后相加")


class VersionOut(Schema):
    id: int
    valid_from: date
    valid_to: date | None
    parameters: dict[str, Any]


class TariffOut(Schema):
    code: str
    name: str
    kind: str
    customer_class: str
    description: str
    current_version: VersionOut | None
    versions: list[VersionOut]


class VersionIn(Schema):
    valid_from: date
    valid_to: date | None = None
    parameters: dict[str, Any]


class MessageOut(Schema):
    detail: str


def quote_row(tariff: Tariff, start: date, end: date, result: RatingResult) -> dict[str, Any]:
    return {
        "tariff_code": tariff.code,
        "tariff_name": tariff.name,
        "period_start": start,
        "period_end": end,
        "lines": [
            {
                "code": ln.code,
                "label": ln.label,
                "quantity": str(ln.quantity),
                "unit_price": str(ln.unit_price),
                "amount": str(ln.amount),
                "part_start": ln.part_start,
                "part_end": ln.part_end,
                "note": ln.note,
            }
            for ln in result.lines
        ],
        "parts": [
            {
                "start": p.start,
                "end": p.end,
                "days": p.days,
                "kwh": str(p.kwh),
                "ytd_before": str(p.ytd_before),
            }
            for p in result.parts
        ],
        "total": str(result.total),
    }


def version_row(v: TariffVersion) -> dict[str, Any]:
    return {"id": v.pk, "valid_from": v.valid_from, "valid_to": v.valid_to, "parameters": v.parameters}


def tariff_row(t: Tariff, today: date) -> dict[str, Any]:
    current = selectors.current_version(t, today)
    return {
        "code": t.code,
        "name": t.name,
        "kind": t.kind,
        "customer_class": t.customer_class,
        "description": t.description,
        "current_version": version_row(current) if current else None,
        "versions": [version_row(v) for v in t.versions.all()],
    }


@router.post(
    "/billing/quote",
    auth=None,
    response={200: QuoteOut, 422: ValidationErrorOut, 429: MessageOut},
    tags=["billing", "public"],
)
def quote(request, payload: QuoteIn):
    """电费试算: the bill lines and total for a tariff, a period and its kWh (no login, rate-limited)."""
    if not services.quote_allowed(ratelimit.client_key(request)):
        return Status(429, {"detail": _("试算过于频繁，请稍后再试")})
    q = services.bill_quote(
        tariff_code=payload.tariff_code,
        period_start=payload.period_start,
        period_end=payload.period_end,
        kwh=payload.kwh.model_dump(),
        ytd_kwh_before=payload.ytd_kwh_before,
        capacity_kva=payload.capacity_kva,
        max_demand_kw=payload.max_demand_kw,
        power_factor=payload.power_factor,
    )
    return Status(200, quote_row(q.tariff, payload.period_start, payload.period_end, q.result))


@router.get("/billing/tariffs", auth=None, response=list[TariffOut], tags=["billing", "public"])
def tariffs(request):
    """The tariff catalogue with each tariff's current and past versions (no login)."""
    today = timezone.localdate()
    return [tariff_row(t, today) for t in selectors.tariffs_with_versions()]


@router.post(
    "/billing/tariffs/{code}/versions",
    response={201: VersionOut, **WRITE_ERRORS, 403: ErrorOut, 422: ValidationErrorOut},
)
def tariff_version_create(request, code: str, payload: VersionIn):
    """Add a tariff version (company admins only; a `tariff.edit` permission stand-in)."""
    if not services.can_edit_tariffs(request.user):
        raise HttpError(403, _("当前角色无此权限：%(perm)s") % {"perm": "tariff.edit"})
    tariff = selectors.tariff_by_code(code)
    if tariff is None:
        raise Http404
    version = services.tariff_version_create(
        actor=api_actor(request),
        tariff=tariff,
        valid_from=payload.valid_from,
        valid_to=payload.valid_to,
        params=payload.parameters,
    )
    return Status(201, version_row(version))


# ---------------------------------------------------------------- billing runs and bills
# POST /billing/runs: roles with `meter.edit` (403 otherwise; 404 for a route outside the caller's
# units); the run is queued as a job (202, with its `job_id`) and its chunks run on the workers. Starting it
# again returns the same run (and continues it); a broker that does not answer is a 503, nothing started; a month that has not ended (the current month or later) is a 422 on "period".
# A run that is executing, or whose accounts overlap a run of the same period that is executing (a unit-wide
# run and a route or child-unit run of it), is a 409 naming the active run; nothing is written.
# GET /billing/runs/{id}: 404 for missing and forbidden alike. DELETE /billing/runs/{id}: 204 for a run that
# issued nothing, 422 otherwise (see `billing_run_delete`).
# GET /billing/bills?account_number=: bills of a visible account (`customer.view`), else an empty list.
# GET /billing/bills/{id}: one bill (`customer.view` within its unit; 404 for missing and forbidden alike).
# POST /billing/bills/{id}/cancel-rebill {"reason"}: 作废重开 → 201 with the new (draft) correcting bill.
# 403 for a role without `billing.run` (decided on the role alone, before the bill is looked up, so it
# tells nothing about the bill); 404 for a bill outside the caller's units; 422 for an empty reason, a
# bill already cancelled or one that cannot be re-rated (nothing is written). Audited as
# `bill.cancel_rebill`.


class BillingRunIn(Schema):
    # The format (and that the month has ended) is checked by the service, so the 422 says it in Chinese.
    period: Text = Field(
        ...,
        examples=["2026-10"],
        description="账期 YYYY-MM（已结束的月份）",
        json_schema_extra={"maxLength": 7},
    )
    route_code: Text | None = Field(None, max_length=32, description="抄表段编号；不填则为本单位全部抄表段")


class BillingRunOut(Schema):
    id: int
    period: str
    route_code: str | None
    unit_code: str
    status: str
    total_count: int
    processed_count: int
    billed_count: int
    exception_count: int
    skipped_count: int
    started_at: datetime | None
    finished_at: datetime | None
    job_id: int | None = Field(
        ..., description="执行该批次的后台任务（GET /api/v1/jobs/{id} 查看进度）；从未排队执行时为 null"
    )


class BillLineOut(Schema):
    seq: int
    code: str
    label: str
    quantity: str
    unit_price: str
    amount: str


class BillOut(Schema):
    id: int
    account_number: str
    period_start: date
    period_end: date
    tariff_code: str
    kwh_total: str
    estimated: bool
    amount: str
    status: str
    due_date: date | None
    corrects_id: int | None = Field(..., description="更正账单：被作废的原账单 id")
    cancelled_at: datetime | None = Field(..., description="作废时间（已作废的账单）")
    cancel_reason: str = Field(..., description="作废原因")
    lines: list[BillLineOut]


class CancelRebillIn(Schema):
    reason: Text = Field(
        ..., max_length=500, description="作废原因（必填）", examples=["抄表错误，示数已更正"]
    )


def run_row(run) -> dict[str, Any]:
    return {
        "id": run.pk,
        "period": run.period,
        "route_code": run.route.code if run.route_id else None,
        "unit_code": run.unit.code,
        "status": run.status,
        "total_count": run.total_count,
        "processed_count": run.processed_count,
        "billed_count": run.billed_count,
        "exception_count": run.exception_count,
        "skipped_count": run.skipped_count,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "job_id": run.job_id,
    }


def _plain(value: Decimal) -> str:
    """120.0000 → "120", 0.538000 → "0.538": never the exponent form ("1.2E+2") of a bare normalize()."""
    return format(value.normalize(), "f")


def bill_row(b) -> dict[str, Any]:
    return {
        "id": b.pk,
        "account_number": b.account.account_number,
        "period_start": b.period_start,
        "period_end": b.period_end,
        "tariff_code": b.tariff_code,
        "kwh_total": str(b.kwh_total),
        "estimated": b.estimated,
        "amount": str(b.amount),
        "status": b.status,
        "due_date": b.due_date,
        "corrects_id": b.corrects_id,
        "cancelled_at": b.cancelled_at,
        "cancel_reason": b.cancel_reason,
        "lines": [
            {
                "seq": ln.seq,
                "code": ln.code,
                "label": ln.label,
                "quantity": _plain(ln.quantity),
                "unit_price": _plain(ln.unit_price),
                "amount": str(ln.amount),
            }
            for ln in b.lines.all()
        ],
    }


@router.post("/billing/runs", response={202: BillingRunOut, **WRITE_ERRORS, **CONFLICT_ERRORS, 503: ErrorOut})
def billing_run_create(request, payload: BillingRunIn):
    """Start (or continue) the billing run of a month for a route or for all routes of the caller's unit.

    202: the run is queued as a job (`job_id`) whose chunks spread over the workers; poll this run's
    GET /billing/runs/{id} or the job's GET /jobs/{id} until it ends. 409 while the run, or one sharing its
    accounts, is executing; 503 when the job engine's broker does not answer (nothing is started)."""
    require_perm(request, Perm.BILLING_RUN)
    route = None
    if payload.route_code:
        route = selectors.route_for_billing(user=request.user, code=payload.route_code)
        if route is None:
            raise Http404
    try:
        run, _job = services.billing_run_submit(actor=api_actor(request), period=payload.period, route=route)
    except BrokerUnavailable as exc:
        raise HttpError(503, str(exc)) from exc
    return Status(202, run_row(selectors.run_get(user=request.user, pk=run.pk)))


@router.get("/billing/runs/{run_id}", response={200: BillingRunOut, 401: ErrorOut, 404: ErrorOut})
def billing_run_detail(request, run_id: int):
    """A billing run's progress and counts."""
    return run_row(selectors.run_get(user=request.user, pk=run_id))


@router.delete("/billing/runs/{run_id}", response={204: None, **WRITE_ERRORS})
def billing_run_delete(request, run_id: int):
    """Delete a run that issued nothing (its draft bills and exceptions go with it; audited). 403 without
    `billing.run`, 404 for a run outside the caller's units, 422 once any bill of the run was issued or
    while it executes (nothing is deleted)."""
    require_perm(request, Perm.BILLING_RUN)
    run = selectors.run_get(user=request.user, pk=run_id)
    services.billing_run_delete(actor=api_actor(request), run=run)
    return Status(204, None)


@router.get("/billing/bills", response={200: list[BillOut], 401: ErrorOut, 403: ErrorOut})
def bills(request, account_number: str):
    """An account's bills with their lines, newest first."""
    require_perm(request, Perm.CUSTOMER_VIEW)
    return [bill_row(b) for b in selectors.bills_of_account(user=request.user, account_number=account_number)]


@router.get("/billing/bills/{bill_id}", response={200: BillOut, **READ_ERRORS})
def bill_detail(request, bill_id: int):
    """One bill with its lines; a cancelled one carries its cancellation time and reason."""
    return bill_row(selectors.bill_with_lines(user=request.user, pk=bill_id))


@router.post("/billing/bills/{bill_id}/cancel-rebill", response={201: BillOut, **WRITE_ERRORS})
def bill_cancel_rebill(request, bill_id: int, payload: CancelRebillIn):
    """作废重开: cancel the bill and create its correction (a draft re-rated from the current reads)."""
    require_perm(request, Perm.BILLING_RUN)
    bill = selectors.bill_with_lines(user=request.user, pk=bill_id)
    new = services.bill_cancel_rebill(actor=api_actor(request), bill=bill, reason=payload.reason)
    return Status(201, bill_row(selectors.bill_with_lines(user=request.user, pk=new.pk)))
