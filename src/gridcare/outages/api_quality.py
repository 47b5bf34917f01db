"""Reliability quality API (issue 14 §4–5): the frequent-outage list and its cases, the trip ranking and its
remediation actions, the voltage compliance rates. Reads need reliability.view and a unit of the caller's
subtree (another unit answers 404, like a missing one); writes need outage.draft (403 for a role without it,
404 for an object outside the caller's units). Bad input: 422 naming the field."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from gridcare.core.api import LIST_ERRORS, WRITE_ERRORS, ErrorOut, Text, require_perm
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.validators import BoundedDate
from gridcare.org.models import User

from . import frequent, trips, voltage

router = Router(tags=["reliability"])


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.API)


def _owner(owner_id: int | None, field: str = "owner_id") -> User | None:
    if owner_id is None:
        return None
    user = User.objects.filter(pk=owner_id, is_active=True).first()
    if user is None:
        raise ValidationError({field: [_("责任人不存在或已停用")]})
    return user


def _today(today: date | None) -> date:
    return today or timezone.localdate()


# ------------------------------------------------------------------------------------------- frequent


class CaseOut(Schema):
    id: int
    first_day: date
    last_day: date
    count: int
    action: str
    status: str
    owner: str | None
    closed_at: str | None = None


class FrequentOut(Schema):
    account_number: str
    unit_id: int
    unit_name: str
    area_code: str
    area_name: str
    count: int
    first_day: date
    last_day: date
    dates: list[date]
    case: CaseOut | None


class CaseIn(Schema):
    action: Text = Field("", max_length=2000, description="整改措施")
    status: Text = Field(..., description="open / in_progress / done / dropped")
    owner_id: int | None = Field(None, description="责任人（员工 id）")


def _case(c) -> dict:
    return {**frequent._case_out(c), "closed_at": c.closed_at.isoformat() if c.closed_at else None}


@router.get("/reliability/frequent", response={200: list[FrequentOut], **LIST_ERRORS, 404: ErrorOut})
def reliability_frequent(request, unit: int, today: BoundedDate | None = None):
    """频繁停电客户清单: accounts with K sustained interruptions within W days, the latest within W days of `today`."""
    require_perm(request, Perm.RELIABILITY_VIEW)
    rows = frequent.frequent_outage_list(request.user, unit_id=unit, today=_today(today))
    for r in rows:
        if r["case"] is not None and r["case"]["closed_at"] is not None:
            r["case"]["closed_at"] = r["case"]["closed_at"].isoformat()
    return rows


@router.patch("/reliability/frequent/{case_id}", response={200: CaseOut, **WRITE_ERRORS})
def reliability_frequent_update(request, case_id: int, payload: CaseIn):
    """Record the action, status and owner of a frequent-outage case."""
    require_perm(request, Perm.OUTAGE_DRAFT)
    case = frequent.frequent_case_get(request.user, case_id=case_id)
    case = frequent.frequent_case_update(
        actor=_actor(request),
        case=case,
        action=payload.action,
        status=payload.status,
        owner=_owner(payload.owner_id),
    )
    return _case(case)


# ------------------------------------------------------------------------------------------- trips


class ActionOut(Schema):
    id: int
    action: str
    status: str
    owner: str | None
    done_on: date | None
    before: int | None = None
    after: int | None = None
    months_elapsed: int | None = None
    days_elapsed: int | None = None


class FeederTripsOut(Schema):
    feeder_code: str
    feeder_name: str
    unit_id: int
    unit_name: str
    trips: int
    actions: list[ActionOut]


class ActionIn(Schema):
    feeder_code: Text = Field(..., max_length=32)
    action: Text = Field(..., max_length=2000, description="治理措施")
    owner_id: int | None = None


class ActionPatch(Schema):
    status: Text = Field(..., description="open / in_progress / done / dropped")
    done_on: BoundedDate | None = Field(None, description="完成日期（状态为 done 时必填）")
    action: Text | None = Field(None, max_length=2000)
    owner_id: int | None = None


def _action(a, today: date) -> dict:
    days = (
        trips._trips(feeder_ids=[a.feeder_id], first=trips.year_before(a.done_on), last=today)
        if a.done_on
        else {}
    )
    return trips._action_out(a, days.get(a.feeder_id, []), today)


@router.get("/reliability/trips", response={200: list[FeederTripsOut], **LIST_ERRORS, 404: ErrorOut})
def reliability_trips(request, unit: int, today: BoundedDate | None = None):
    """故障跳闸专项治理: feeders by fault trips in the last 12 months, with actions and before/after counts."""
    require_perm(request, Perm.RELIABILITY_VIEW)
    return trips.trip_ranking(request.user, unit_id=unit, today=_today(today))


@router.post("/reliability/trips/actions", response={201: ActionOut, **WRITE_ERRORS})
def reliability_trip_action_create(request, payload: ActionIn):
    require_perm(request, Perm.OUTAGE_DRAFT)
    a = trips.trip_action_create(
        actor=_actor(request),
        feeder_code=payload.feeder_code,
        action=payload.action,
        owner=_owner(payload.owner_id),
    )
    return Status(201, _action(a, timezone.localdate()))


@router.patch("/reliability/trips/actions/{action_id}", response={200: ActionOut, **WRITE_ERRORS})
def reliability_trip_action_update(request, action_id: int, payload: ActionPatch):
    require_perm(request, Perm.OUTAGE_DRAFT)
    a = trips.trip_action_get(request.user, action_id=action_id)
    today = timezone.localdate()
    a = trips.trip_action_update(
        actor=_actor(request),
        action=a,
        status=payload.status,
        done_on=payload.done_on,
        text=payload.action,
        owner=_owner(payload.owner_id),
        today=today,
    )
    return _action(a, today)


# ------------------------------------------------------------------------------------------- voltage


class AreaRateOut(Schema):
    area_code: str
    area_name: str
    area_type: str
    unit_id: int
    unit_name: str
    hours_read: int
    hours_ok: int
    rate_percent: float | None
    target_percent: float
    below_target: bool
    voltage_complaints: int | None = Field(None, description="电压类投诉（95598 工单上线前为空，显示“—”）")


class VoltageOut(Schema):
    unit: int
    month: str
    areas: list[AreaRateOut]
    below_target: list[AreaRateOut]


def _rate_row(r: dict) -> dict:
    return {
        **r,
        "rate_percent": None if r["rate_percent"] is None else float(r["rate_percent"]),
        "target_percent": float(r["target_percent"]),
    }


@router.get("/reliability/voltage", response={200: VoltageOut, **LIST_ERRORS, 404: ErrorOut})
def reliability_voltage(request, unit: int, month: str):
    """电压合格率 per transformer area for a month (`YYYY-MM`), and the areas below target."""
    require_perm(request, Perm.RELIABILITY_VIEW)
    m = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", month or "")
    if not m or not (2000 <= int(m[1]) <= 2100):
        raise ValidationError({"month": [_("月份格式应为 YYYY-MM")]})
    first = date(int(m[1]), int(m[2]), 1)
    rows = [_rate_row(r) for r in voltage.voltage_monthly_rates(request.user, unit_id=unit, month=first)]
    return {
        "unit": unit,
        "month": month,
        "areas": rows,
        "below_target": [r for r in rows if r["below_target"]],
    }
