"""Reliability on stored data (issue 14 §3 and §6), staff with reliability.view:

- `GET /reliability/indices?unit=&start=&end=&basis=lv|mv&area_group=`: the calculate shape plus `unit`, `basis`,
  `area_group`, `cemi`, `customers_used`, `open_interruptions`. Defaults: the caller's unit, the current China year
  to date. Bad values → 422 naming `unit` / `start` / `end` / `basis` / `area_group`; a period over 3,653 days →
  422 `end`; a unit outside the caller's subtree → 404.
- `GET /reliability/monthly?unit=&year=&basis=&area_group=`: 12 months, YTD, projection, targets and lights.
- `GET /reliability/targets?unit=&year=`: the targets per area group and basis (SPEC C5 defaults where none is
  stored, marked `default`); `PUT` the same with a body sets one (outage.approve, audited)."""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema

from gridcare.core.api import ErrorOut, Text, ValidationErrorOut, api_actor, require_perm
from gridcare.core.permissions import Perm

from .choices import AREA_GROUP_TYPES, AreaGroup, Basis
from .indices import china_today, reliability_indices, reliability_monthly, targets_for, visible_unit
from .reliability import MAX_PERIOD_DAYS
from .targets import reliability_target_set

router = Router(tags=["reliability"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


def _unit(raw: str | None, request, errs: dict) -> int | None:
    if raw is None or raw == "":
        return request.user.unit_id
    if not raw.isdigit() or len(raw) > 12:
        errs["unit"] = [_("供电单位应为单位编号（整数 id）")]
        return None
    return int(raw)


def _date(raw: str | None, name: str, errs: dict) -> date | None:
    try:
        if len(raw) != 10:
            raise ValueError
        value = date.fromisoformat(raw)
        if not 2000 <= value.year <= 2100:
            raise ValueError
        return value
    except ValueError:
        errs[name] = [_("日期格式应为 YYYY-MM-DD（2000–2100年）")]
        return None


def _choice(raw: str | None, name: str, allowed, default: str, errs: dict) -> str:
    if raw is None or raw == "":
        return default
    if raw not in allowed:
        errs[name] = [_("应为 %(v)s") % {"v": " / ".join(allowed)}]
    return raw


def _year(raw: str | None, errs: dict) -> int:
    if raw is None or raw == "":
        return china_today().year
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        errs["year"] = [_("年份应为 2000–2100 的整数")]
        return 0
    return int(raw)


@router.get(
    "/reliability/indices", response={200: dict[str, Any], **ERRORS}, summary="供电可靠性指标（按单位及期间）"
)
def reliability_indices_get(
    request,
    unit: Text | None = None,
    start: Text | None = None,
    end: Text | None = None,
    basis: Text | None = None,
    area_group: Text | None = None,
):
    """Every index with and without Major Event Days, CEMIₙ, the customer counts used, T_MED and the MED dates."""
    require_perm(request, Perm.RELIABILITY_VIEW)
    errs: dict[str, list[str]] = {}
    unit_id = _unit(unit, request, errs)
    today = china_today()
    d0 = _date(start, "start", errs) if start else date(today.year, 1, 1)
    d1 = _date(end, "end", errs) if end else today
    if d0 and d1 and "start" not in errs and "end" not in errs:
        if d1 < d0:
            errs["end"] = [_("截止日不能早于起始日")]
        elif (d1 - d0).days + 1 > MAX_PERIOD_DAYS:
            errs["end"] = [_("统计期最长 %(n)s 天（10年）") % {"n": MAX_PERIOD_DAYS}]
    b = _choice(basis, "basis", Basis.values, Basis.LV, errs)
    g = _choice(area_group, "area_group", list(AREA_GROUP_TYPES), AreaGroup.ALL, errs)
    if errs:
        raise ValidationError(errs)
    return reliability_indices(
        user=request.user, unit_id=unit_id, start=d0, end=d1, basis=b, area_group=g, as_of=timezone.now()
    )


@router.get("/reliability/monthly", response={200: dict[str, Any], **ERRORS}, summary="可靠性月度趋势与目标")
def reliability_monthly_get(
    request,
    unit: Text | None = None,
    year: Text | None = None,
    basis: Text | None = None,
    area_group: Text | None = None,
):
    require_perm(request, Perm.RELIABILITY_VIEW)
    errs: dict[str, list[str]] = {}
    unit_id = _unit(unit, request, errs)
    y = _year(year, errs)
    b = _choice(basis, "basis", Basis.values, Basis.LV, errs)
    g = _choice(area_group, "area_group", list(AREA_GROUP_TYPES), AreaGroup.ALL, errs)
    if errs:
        raise ValidationError(errs)
    return reliability_monthly(
        user=request.user, unit_id=unit_id, year=y, basis=b, area_group=g, today=china_today()
    )


def _target_rows(unit, year: int) -> dict:
    rows = []
    for b in Basis.values:
        for g, t in targets_for(unit, year, b).items():
            rows.append(
                {
                    "area_group": g,
                    "basis": b,
                    "saidi_hours_max": str(t["saidi_hours_max"])
                    if t["saidi_hours_max"] is not None
                    else None,
                    "rs1_percent_min": str(t["rs1_percent_min"])
                    if t["rs1_percent_min"] is not None
                    else None,
                    "saifi_max": str(t["saifi_max"]) if t["saifi_max"] is not None else None,
                    "default": t["default"],
                }
            )
    return {"unit": {"id": unit.pk, "code": unit.code, "name": unit.name}, "year": year, "targets": rows}


@router.get("/reliability/targets", response={200: dict[str, Any], **ERRORS}, summary="可靠性年度目标")
def reliability_targets_get(request, unit: Text | None = None, year: Text | None = None):
    require_perm(request, Perm.RELIABILITY_VIEW)
    errs: dict[str, list[str]] = {}
    unit_id = _unit(unit, request, errs)
    y = _year(year, errs)
    if errs:
        raise ValidationError(errs)
    return _target_rows(visible_unit(request.user, unit_id), y)


class TargetIn(Schema):
    area_group: str = AreaGroup.ALL
    basis: str = Basis.LV
    saidi_hours_max: Any = None
    rs1_percent_min: Any = None
    saifi_max: Any = None


@router.put("/reliability/targets", response={200: dict[str, Any], **ERRORS}, summary="设置可靠性年度目标")
def reliability_targets_put(request, payload: TargetIn, unit: Text | None = None, year: Text | None = None):
    """Sets the target of one area group and basis; answers every target of the unit and year."""
    require_perm(request, Perm.OUTAGE_APPROVE)
    errs: dict[str, list[str]] = {}
    unit_id = _unit(unit, request, errs)
    y = _year(year, errs)
    if errs:
        raise ValidationError(errs)
    u = visible_unit(request.user, unit_id)
    reliability_target_set(
        actor=api_actor(request),
        unit=u,
        year=y,
        area_group=payload.area_group,
        basis=payload.basis,
        saidi_hours_max=payload.saidi_hours_max,
        rs1_percent_min=payload.rs1_percent_min,
        saifi_max=payload.saifi_max,
    )
    return _target_rows(u, y)
