"""Reliability API (issue 14): `POST /reliability/calculate` computes the indices from the data in the request
and stores nothing — what planners use for what-if studies and auditors to re-check a report. Staff only
(token or console session): no credentials 401, a portal customer 403. Bad input answers 422 naming the field
(`events.3.end`, …), every event validated, those outside the period too."""

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import BaseModel, WithJsonSchema

from gridcare.core.api import ErrorOut, ValidationErrorOut

from .reliability import CAUSES, MAX_PERIOD_DAYS, Event, compute

router = Router(tags=["reliability"])
MAX_EVENTS = 200_000
Number = Annotated[Any, WithJsonSchema({"type": "number"})]
Stamp = Annotated[Any, WithJsonSchema({"type": "string", "format": "date-time"})]


class EventIn(BaseModel):
    """A plain pydantic model, not a ninja Schema: ninja's per-object root validator cost ~45 µs an event, 4.5 s of
    a 100,000-event request. `checked_by_route`: `_clean` checks every field of every event (type, range, offset),
    so the API-wide date and integer range walk (core.api.dates_in_range) skips the list."""

    checked_by_route: ClassVar[bool] = True

    id: Annotated[Any, WithJsonSchema({"type": "string"})] = Field(..., description="事件编号（请求内唯一）")
    start: Stamp = Field(..., description="停电开始，ISO 8601，须带时区")
    end: Stamp = Field(..., description="恢复送电，ISO 8601，须带时区")
    customers: Number = Field(..., description="停电户数")
    cause: Annotated[Any, WithJsonSchema({"type": "string", "enum": list(CAUSES)})] = Field(
        ..., description="planned / temporary / fault / external / shortage"
    )


class CalculateIn(Schema):
    customers_served: Number = Field(..., description="总用户数 N_T")
    start: Annotated[Any, WithJsonSchema({"type": "string", "format": "date"})] = Field(
        ..., description="起始日（含）"
    )
    end: Annotated[Any, WithJsonSchema({"type": "string", "format": "date"})] = Field(
        ..., description="截止日（含）"
    )
    momentary_max_minutes: Number = Field(5, description="瞬时停电上限（分钟），默认 5")
    events: list[EventIn] = Field(default_factory=list)


class IndicesOut(Schema):
    saifi: float
    saidi_hours: float
    caidi_hours: float | None
    asai_percent: float
    maifi: float
    rs2_percent: float
    rs3_percent: float


class CalculateOut(Schema):
    customers_served: int | float
    period_hours: int
    t_med_minutes: float | None
    major_event_days: list[str]
    all: IndicesOut
    excluding_med: IndicesOut


def _number(raw: Any, field: str, errs: dict, *, integer: bool, minimum: float, strict_min: bool = False):
    ok = (
        not isinstance(raw, bool)
        and isinstance(raw, int | float)
        and (not integer or float(raw).is_integer())
    )
    if ok and isinstance(raw, float) and not (raw == raw and abs(raw) != float("inf")):
        ok = False
    if not ok or (raw <= minimum if strict_min else raw < minimum) or abs(raw) > 1e15:
        kind = _("整数") if integer else _("数值")
        bound = _("大于 %(m)s") % {"m": minimum} if strict_min else _("不小于 %(m)s") % {"m": minimum}
        errs.setdefault(field, []).append(_("应为%(k)s，且%(b)s") % {"k": kind, "b": bound})
        return None
    return int(raw) if integer else float(raw)


def _day(raw: Any, field: str, errs: dict) -> date | None:
    try:
        if not isinstance(raw, str) or len(raw) != 10:
            raise ValueError
        value = date.fromisoformat(raw)
        if not (2000 <= value.year <= 2100):
            raise ValueError
        return value
    except ValueError:
        errs.setdefault(field, []).append(_("日期格式应为 YYYY-MM-DD（2000–2100年）"))
        return None


def _stamp(raw: Any, field: str, errs: dict) -> datetime | None:
    try:
        if not isinstance(raw, str) or len(raw) > 40:
            raise ValueError
        value = datetime.fromisoformat(raw)
    except ValueError:
        errs.setdefault(field, []).append(_("时间格式应为 ISO 8601，如 2025-03-01T10:00:00+08:00"))
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        errs.setdefault(field, []).append(_("时间须带时区（如 +08:00）"))
        return None
    if not (1990 <= value.year <= 2100):
        errs.setdefault(field, []).append(_("时间超出范围（1990–2100年）"))
        return None
    return value


def _plain_event(e: EventIn, seen: dict[str, int], cap: float) -> Event | None:
    """The event when every field is plainly right (what `_clean` would accept without a message), else None and
    `_clean` checks it field by field to say what is wrong."""
    ident, s_raw, t_raw, customers, cause = e.id, e.start, e.end, e.customers, e.cause
    if not (
        type(ident) is str
        and 0 < len(ident) <= 64
        and ident not in seen
        and ident.strip()
        and "\x00" not in ident
        and type(s_raw) is str
        and type(t_raw) is str
        and len(s_raw) <= 40
        and len(t_raw) <= 40
        and type(customers) is int
        and 0 <= customers <= cap
        and cause in CAUSES
    ):
        return None
    try:
        s, t = datetime.fromisoformat(s_raw), datetime.fromisoformat(t_raw)
    except ValueError:
        return None
    if (
        s.tzinfo is None
        or t.tzinfo is None
        or s.utcoffset() is None
        or t.utcoffset() is None
        or not 1990 <= s.year <= 2100
        or not 1990 <= t.year <= 2100
        or t < s
    ):
        return None
    return Event(ident, s, t, customers, cause)


def _clean(payload: CalculateIn) -> dict:
    errs: dict[str, list[str]] = {}
    served = _number(
        payload.customers_served, "customers_served", errs, integer=False, minimum=0, strict_min=True
    )
    start = _day(payload.start, "start", errs)
    end = _day(payload.end, "end", errs)
    if start and end:
        if end < start:
            errs.setdefault("end", []).append(_("截止日不能早于起始日"))
        elif (end - start).days + 1 > MAX_PERIOD_DAYS:
            errs.setdefault("end", []).append(_("统计期最长 %(n)s 天（10年）") % {"n": MAX_PERIOD_DAYS})
    momentary = _number(
        payload.momentary_max_minutes, "momentary_max_minutes", errs, integer=False, minimum=0
    )
    if len(payload.events) > MAX_EVENTS:
        errs["events"] = [_("一次最多 %(n)s 个停电事件") % {"n": MAX_EVENTS}]
        raise ValidationError(errs)
    events: list[Event] = []
    seen: dict[str, int] = {}
    cap = served if served is not None else -1
    for i, e in enumerate(payload.events):
        event = _plain_event(e, seen, cap)
        if event is not None:  # the common case, checked in one expression; anything odd takes the path below
            seen[event.id] = i
            events.append(event)
            continue
        before = len(errs)
        ident = e.id if isinstance(e.id, str) else None
        if ident is None or not ident.strip() or len(ident) > 64 or "\x00" in ident:
            errs.setdefault(f"events.{i}.id", []).append(_("事件编号应为1–64个字符"))
        elif ident in seen:
            errs.setdefault(f"events.{i}.id", []).append(_("与第 %(j)s 个事件编号重复") % {"j": seen[ident]})
        else:
            seen[ident] = i
        s = _stamp(e.start, f"events.{i}.start", errs)
        t = _stamp(e.end, f"events.{i}.end", errs)
        if s and t and t < s:
            errs.setdefault(f"events.{i}.end", []).append(_("恢复时间不能早于停电开始时间"))
        customers = _number(e.customers, f"events.{i}.customers", errs, integer=True, minimum=0)
        if customers is not None and served is not None and customers > served:
            errs.setdefault(f"events.{i}.customers", []).append(_("停电户数不能超过总用户数"))
        if not isinstance(e.cause, str) or e.cause not in CAUSES:
            errs.setdefault(f"events.{i}.cause", []).append(
                _("未知的停电原因：%(c)s（应为 %(all)s）")
                % {"c": str(e.cause)[:20], "all": " / ".join(CAUSES)}
            )
        if len(errs) == before and s and t and customers is not None and ident:
            events.append(Event(ident, s, t, customers, e.cause))
    if errs:
        raise ValidationError(errs)
    return {
        "customers_served": served,
        "start": start,
        "end": end,
        "events": events,
        "momentary_max_minutes": momentary,
    }


@router.post(
    "/reliability/calculate",
    response={200: CalculateOut, 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="供电可靠性指标试算（不保存）",
)
def reliability_calculate(request, payload: CalculateIn):
    """Every index with and without Major Event Days, T_MED and the MED dates, from the events given."""
    if not getattr(request.user, "is_staff_user", False):
        raise HttpError(403, _("可靠性指标试算仅供工作人员使用"))
    args = _clean(payload)
    out = compute(**args)
    # customers_served echoes the number as sent: an integer stays one
    sent = payload.customers_served
    out["customers_served"] = int(sent) if isinstance(sent, int) else args["customers_served"]
    return out
