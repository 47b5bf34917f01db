"""Billing API: the public tariff list and quote (电费试算), and admin-only tariff version upkeep.

- `POST /billing/quote` (no login, rate-limited per client like the public 户号 query → 429): the
  lines and total a real bill would carry, from the same engine. Bad input → 422 with field names
  (`tariff_code`, `kwh.total`, `period_end`, `capacity_kva`, `power_factor`, …).
- `GET /billing/tariffs` (no login): the catalogue with each tariff's current version.
- `POST /billing/tariffs/{code}/versions`: company admins only (403 for other roles, 401 anonymous);
  overlap or bad prices → 422. Audited as `tariff_version.create`.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core import ratelimit
from gridcare.core.api import WRITE_ERRORS, ErrorOut, Text, ValidationErrorOut, api_actor

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
