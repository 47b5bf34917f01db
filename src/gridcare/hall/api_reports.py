"""Hall reports API (issue 16 §8–9), mounted at /api/v1/ by gridcare/api.py; staff with hall.report on halls of
their unit subtree:
- `GET /halls/kpis?hall=<id>&hall=…&from=&to=&group=hall|category|day|hour`: `kpis.hall_kpis` (default every hall in
  scope, this month to today, by hall);
- `GET /halls/{hall_id}/peaks?from=&to=`: `kpis.hall_peaks` (default the three months up to `to`, itself today);
- `GET /halls/{hall_id}/staffing-plan?week=&service_level=`: `staffing_plan.staffing_plan` (default this week,
  0.8).
A role without hall.report gets 403 (customers included), a hall outside the caller's subtree (or missing) 404,
bad filters (a bad date, `to` before `from`, a period over 366 days, an unknown group, a level outside (0, 1))
422 naming the field. Shares and rates are fractions (0.8125), minutes floats rounded to 0.01."""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from gridcare.core.api import ErrorOut, Text, ValidationErrorOut, require_perm
from gridcare.core.permissions import Perm

from . import kpis, staffing_plan

router = Router(tags=["hall"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class KpiFilters(Schema):
    hall: list[Text] | None = Field(None, description="营业厅 id，可重复；默认可见的全部营业厅")
    date_from: Text | None = Field(None, alias="from", max_length=10, description="起始日期 YYYY-MM-DD")
    date_to: Text | None = Field(None, alias="to", max_length=10, description="截止日期 YYYY-MM-DD")
    group: Text | None = Field(None, max_length=10, description="分组：hall / category / day / hour")


class PeakFilters(Schema):
    date_from: Text | None = Field(None, alias="from", max_length=10, description="起始日期 YYYY-MM-DD")
    date_to: Text | None = Field(
        None, alias="to", max_length=10, description="截止日期 YYYY-MM-DD（默认今天）"
    )


class PlanFilters(Schema):
    week: Text | None = Field(None, max_length=10, description="计划周内任一日期 YYYY-MM-DD（默认今天）")
    service_level: Text | None = Field(None, max_length=20, description="目标服务水平 (0, 1)，默认 0.8")


def report_now():
    """The instant of the report (today's date and the end of open counter sessions); tests replace it."""
    return timezone.now()


def _hall_id(raw: str) -> int:
    from django.http import Http404

    raw = (raw or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Http404
    return int(raw)


@router.get(
    "/halls/kpis", response={200: dict[str, Any], **ERRORS}, summary="营业厅指标（等候、办理、过号、人效）"
)
def halls_kpis(request, filters: Query[KpiFilters]):
    require_perm(request, Perm.HALL_REPORT)
    now = report_now()
    f = kpis.parse_period(filters.date_from, filters.date_to, today=timezone.localdate(now))
    group = kpis.parse_group(filters.group, f.errors)
    ids = kpis.parse_hall_ids(filters.hall, f.errors)
    if f.errors:
        raise ValidationError(f.errors)
    return kpis.plain(
        kpis.hall_kpis(user=request.user, hall_ids=ids, first=f.first, last=f.last, group=group, now=now)
    )


@router.get(
    "/halls/{hall_id}/peaks", response={200: dict[str, Any], **ERRORS}, summary="高峰分析（日期×时段热力图）"
)
def halls_peaks(request, hall_id: str, filters: Query[PeakFilters]):
    require_perm(request, Perm.HALL_REPORT)
    hid = _hall_id(hall_id)
    now = report_now()
    f = kpis.parse_period(
        filters.date_from, filters.date_to, today=timezone.localdate(now), default="quarter"
    )
    kpis.report_hall(
        request.user, hid
    )  # 404 before 422: a hall out of scope is not found, whatever the filters
    if f.errors:
        raise ValidationError(f.errors)
    return kpis.plain(kpis.hall_peaks(user=request.user, hall_id=hid, first=f.first, last=f.last))


@router.get(
    "/halls/{hall_id}/staffing-plan",
    response={200: dict[str, Any], **ERRORS},
    summary="排班建议（Erlang C，按小时）",
)
def halls_staffing_plan(request, hall_id: str, filters: Query[PlanFilters]):
    require_perm(request, Perm.HALL_REPORT)
    hid = _hall_id(hall_id)
    now = report_now()
    week, level, errors = staffing_plan.parse_plan_filters(
        filters.week, filters.service_level, today=timezone.localdate(now)
    )
    kpis.report_hall(request.user, hid)
    if errors:
        raise ValidationError(errors)
    return kpis.plain(
        staffing_plan.staffing_plan(user=request.user, hall_id=hid, week=week, service_level=level, now=now)
    )
