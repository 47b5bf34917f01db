"""Metering API: meter reads, the exceptions queue and reading routes.

Same conventions as `gridcare.customers.api`: anonymous → 401; collection routes (`GET /reads/exceptions`,
`GET /routes`) → 403 for a role without meter.edit; routes naming an object → 404 when it is missing,
outside the caller's units, or the caller may not act on it. Reading history (`GET /meters/{n}/reads`)
needs customer.view (service staff explain bills from it); entering and handling reads needs meter.edit.
Bad input → 422 `{"detail": [{"field", "message"}]}` (a read not later than the meter's last one included).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count
from ninja import Field, Query, Router, Schema, Status

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    aware,
    paginate,
    require_object_perm,
    require_perm,
)
from gridcare.core.permissions import Perm
from gridcare.customers.selectors import account_get

from . import selectors, services
from .choices import ReadSource

router = Router(tags=["metering"])


class FlagOut(Schema):
    code: str
    message: str


class ReadOut(Schema):
    id: int
    meter: str
    account_number: str
    read_at: datetime
    total: Decimal
    sharp: Decimal | None
    peak: Decimal | None
    flat: Decimal | None
    valley: Decimal | None
    consumption: Decimal | None
    source: str
    status: str
    flags: list[FlagOut]


class ReadPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ReadOut]


class ReadIn(Schema):
    read_at: datetime = Field(..., description="抄表时间（无时区按北京时间）")
    total: Any = Field(..., description="总示数 kWh")
    sharp: Any = None
    peak: Any = None
    flat: Any = None
    valley: Any = None
    source: Text = Field(ReadSource.MANUAL, description="manual / ami / exchange_final / exchange_initial")


class RegistersIn(Schema):
    total: Any = Field(..., description="更正后的总示数")
    sharp: Any = None
    peak: Any = None
    flat: Any = None
    valley: Any = None


class EstimateMissingIn(Schema):
    account_number: Text
    period_end: date


class RouteOut(Schema):
    id: int
    code: str
    name: str
    unit_id: int
    reading_day: int
    reader: str | None
    accounts: int


def read_row(r) -> dict[str, Any]:
    return {
        "id": r.pk, "meter": r.meter.asset_number, "account_number": r.account.account_number,
        "read_at": r.read_at, "total": r.total, "sharp": r.sharp, "peak": r.peak, "flat": r.flat,
        "valley": r.valley, "consumption": r.consumption, "source": r.source, "status": r.status,
        "flags": r.flags or [],
    }  # fmt: skip


def _registers(payload) -> dict[str, Any]:
    return {k: getattr(payload, k) for k in ("total", "sharp", "peak", "flat", "valley")}


@router.get("/meters/{asset_number}/reads", response={200: ReadPage, **READ_ERRORS})
def meter_reads(request, asset_number: Text, paging: Query[PageParams]):
    """A meter's reads, newest first (requires customer.view)."""
    meter = selectors.meter_get(user=request.user, asset_number=asset_number, perm=Perm.CUSTOMER_VIEW)
    return paginate(selectors.meter_reads(meter=meter).select_related("meter", "account"), paging, read_row)


@router.post("/meters/{asset_number}/reads", response={201: ReadOut, **WRITE_ERRORS})
def meter_read_create(request, asset_number: Text, payload: ReadIn):
    """Enter a reading (VEE runs; a read breaking a rule is stored with status `flagged`)."""
    require_object_perm(request, Perm.METER_EDIT)
    meter = selectors.meter_get(user=request.user, asset_number=asset_number)
    read = services.read_record(
        actor=api_actor(request),
        meter=meter,
        read_at=aware(payload.read_at),
        registers=_registers(payload),
        source=payload.source,
    )
    return Status(201, read_row(read))


@router.get("/reads/exceptions", response={200: ReadPage, **LIST_ERRORS})
def read_exceptions(request, paging: Query[PageParams]):
    """The exceptions queue: flagged reads of the caller's units, oldest first."""
    require_perm(request, Perm.METER_EDIT)
    return paginate(selectors.exceptions_visible(user=request.user), paging, read_row)


@router.post("/reads/estimate-missing", response={201: ReadOut, **WRITE_ERRORS})
def read_estimate_missing(request, payload: EstimateMissingIn):
    """Estimate the read of an account nobody could read, at 00:00 of `period_end`."""
    require_perm(request, Perm.METER_EDIT)
    account = account_get(user=request.user, account_number=payload.account_number)
    read = services.read_estimate_missing(
        actor=api_actor(request), account=account, period_end=payload.period_end
    )
    return Status(201, read_row(read))


@router.post("/reads/{read_id}/accept", response={200: ReadOut, **WRITE_ERRORS})
def read_accept(request, read_id: int):
    """Accept a flagged read as it is."""
    require_object_perm(request, Perm.METER_EDIT)
    read = services.read_accept(
        actor=api_actor(request), read=selectors.read_get(user=request.user, pk=read_id)
    )
    return read_row(read)


@router.post("/reads/{read_id}/correct", response={200: ReadOut, **WRITE_ERRORS})
def read_correct(request, read_id: int, payload: RegistersIn):
    """Replace a flagged read's registers with corrected values."""
    require_object_perm(request, Perm.METER_EDIT)
    read = services.read_correct(
        actor=api_actor(request),
        read=selectors.read_get(user=request.user, pk=read_id),
        registers=_registers(payload),
    )
    return read_row(read)


@router.post("/reads/{read_id}/estimate", response={200: ReadOut, **WRITE_ERRORS})
def read_estimate(request, read_id: int):
    """Replace a flagged read by an estimate from the account's history."""
    require_object_perm(request, Perm.METER_EDIT)
    read = services.read_estimate(
        actor=api_actor(request), read=selectors.read_get(user=request.user, pk=read_id)
    )
    return read_row(read)


@router.get("/routes", response={200: list[RouteOut], **LIST_ERRORS})
def route_list(request):
    """Reading routes of the caller's units."""
    require_perm(request, Perm.METER_EDIT)
    qs = selectors.routes_visible(user=request.user).annotate(n=Count("memberships"))
    return [
        {
            "id": r.pk,
            "code": r.code,
            "name": r.name,
            "unit_id": r.unit_id,
            "reading_day": r.reading_day,
            "reader": r.reader.get_username() if r.reader else None,
            "accounts": r.n,
        }
        for r in qs
    ]
