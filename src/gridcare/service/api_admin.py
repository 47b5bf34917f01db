"""Service-admin API of the 95598 service (issue 15 §3–4): the working-day calendar and the time-limit policies.
Mounted at /api/v1/ by gridcare/api.py.

- `GET /calendar/years`, `GET /calendar/years/{year}`: staff with workorder.view (else 403); a year the table does
  not hold → 404.
- `PUT /calendar/years/{year}` {loaded, days: [{date, working, name}]} (service.admin, else 403): replaces the
  year's days as a whole; a date twice or outside the year → 422 naming `days.<i>.date`, nothing written. When
  the deadlines depend on the change, the answer names the recompute job.
- `GET /service/policies` (workorder.view), `PUT /service/policies` {policies: [{id, amount, unit}]}
  (service.admin): existing orders keep their deadlines."""

from datetime import date, datetime

from django.http import Http404
from ninja import Field, Router, Schema

from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, Text, api_actor, require_perm
from gridcare.core.permissions import Perm

from . import calendar_admin as cal

router = Router(tags=["service-admin"])


# ---------------------------------------------------------------- schemas


class CalendarYearOut(Schema):
    year: int
    loaded: bool = Field(..., description="已发布（已录入当年节假日与调休）")
    source: str = Field(..., description="package / manual / import")
    holidays: int = Field(..., description="节假日（休）天数")
    working_days: int = Field(..., description="调休上班（班）天数")
    updated_at: datetime | None
    updated_by: str


class CalendarDayOut(Schema):
    date: date
    working: bool = Field(..., description="true：调休上班；false：节假日")
    name: str


class CalendarYearDetailOut(CalendarYearOut):
    days: list[CalendarDayOut]


class CalendarDayIn(Schema):
    date: date
    working: bool = Field(..., description="true：调休上班（班）；false：节假日（休）")
    name: Text = Field("", max_length=40, description="节日名称，如 国庆节")


class CalendarYearIn(Schema):
    loaded: bool = Field(..., description="标记为已发布：按所录日期计算工作日，不再是临时时限")
    days: list[CalendarDayIn] = Field(..., max_length=366, description="当年全部节假日与调休上班日")


class CalendarSaveOut(CalendarYearDetailOut):
    changed: bool
    recompute_job: int | None = Field(None, description="重算工单时限的后台任务")
    recompute_error: str = ""


class SlaPolicyOut(Schema):
    id: int
    order_type: str
    sub_type: str
    area: str
    name: str
    label: str
    amount: int
    unit: str
    basis: str
    updated_at: datetime | None


class SlaPolicyChangeIn(Schema):
    id: int = Field(..., ge=1, le=2_147_483_647)
    amount: int = Field(..., ge=1, le=100_000)
    unit: Text = Field(..., max_length=16, description="minutes / hours / working_days")


class SlaPoliciesIn(Schema):
    policies: list[SlaPolicyChangeIn] = Field(..., min_length=1, max_length=200)


# ---------------------------------------------------------------- shaping


def _year_row(y) -> dict:
    return {
        "year": y.year,
        "loaded": y.loaded,
        "source": y.source,
        "holidays": y.holidays,
        "working_days": y.working_days,
        "updated_at": y.updated_at,
        "updated_by": y.updated_by.get_username() if y.updated_by_id else "",
    }


def _year_detail(year: int) -> dict | None:
    row = cal.calendar_years().filter(year=year).first()
    if row is None:
        return None
    _row, days = cal.calendar_year_get(year)
    return {
        **_year_row(row),
        "days": [{"date": d.date, "working": d.is_working, "name": d.name} for d in days],
    }


def _policy_row(p) -> dict:
    return {
        "id": p.pk,
        "order_type": p.order_type,
        "sub_type": p.sub_type,
        "area": p.area,
        "name": p.name,
        "label": cal.policy_label(p),
        "amount": p.amount,
        "unit": p.unit,
        "basis": p.basis,
        "updated_at": p.updated_at,
    }


# ---------------------------------------------------------------- routes


@router.get("/calendar/years", response={200: list[CalendarYearOut], **LIST_ERRORS}, summary="工作日历年份")
def calendar_year_list(request):
    """Every year of the working-day calendar, newest first (workorder.view)."""
    require_perm(request, Perm.WORKORDER_VIEW)
    return [_year_row(y) for y in cal.calendar_years()]


@router.get(
    "/calendar/years/{year}",
    response={200: CalendarYearDetailOut, **READ_ERRORS, 403: ErrorOut},
    summary="某年的节假日与调休",
)
def calendar_year_detail(request, year: int):
    """The year's holidays and adjusted working days (workorder.view); 404 when the table does not hold it."""
    require_perm(request, Perm.WORKORDER_VIEW)
    detail = _year_detail(year) if cal.YEAR_MIN <= year <= cal.YEAR_MAX else None
    if detail is None:
        raise Http404
    return detail


@router.put(
    "/calendar/years/{year}",
    response={200: CalendarSaveOut, **WRITE_ERRORS},
    summary="录入某年的节假日与调休",
)
def calendar_year_put(request, year: int, payload: CalendarYearIn):
    """Replace the year's days and loaded flag (service.admin). A date twice or outside the year → 422, nothing
    written; the deadlines depending on the change are recomputed by a job."""
    require_perm(request, Perm.SERVICE_ADMIN)
    saved = cal.calendar_year_save(
        actor=api_actor(request),
        year=year,
        loaded=payload.loaded,
        days=cal.days_from_api([d.dict() for d in payload.days]),
    )
    return {
        **_year_detail(year),
        "changed": saved.changed,
        "recompute_job": saved.job.pk if saved.job is not None else None,
        "recompute_error": saved.job_error,
    }


@router.get("/service/policies", response={200: list[SlaPolicyOut], **LIST_ERRORS}, summary="服务承诺时限")
def policy_list(request):
    """The time-limit policy table (workorder.view)."""
    require_perm(request, Perm.WORKORDER_VIEW)
    return [_policy_row(p) for p in cal.policies_list()]


@router.put(
    "/service/policies", response={200: list[SlaPolicyOut], **WRITE_ERRORS}, summary="修改服务承诺时限"
)
def policy_update(request, payload: SlaPoliciesIn):
    """Change amounts and units (service.admin); new orders get them, existing orders keep their deadlines."""
    require_perm(request, Perm.SERVICE_ADMIN)
    cal.policies_update(
        actor=api_actor(request),
        changes=[
            cal.PolicyChange(id=c.id, amount=c.amount, unit=c.unit, field=f"policies.{i}")
            for i, c in enumerate(payload.policies)
        ],
    )
    return [_policy_row(p) for p in cal.policies_list()]
