"""The per-hour staffing plan of a hall (issue 16 §9): Erlang C fed with the hall's own history.

For the week holding the chosen date (Monday to Sunday), per weekday × hour of opening:
- **History** = the 8 whole weeks before that Monday (56 days). Only the *open days* count: a weekday in the
  hall's `open_weekdays` that is not a `HallClosure`; a day the hall was closed is left out, not counted as a day
  with no customers. A day the hall was open and nobody came counts, with 0 arrivals.
- **Arrivals per hour** λ = tickets issued in that weekday and China hour over the open days ÷ those open days;
  when the hall opens only part of the hour (08:30 in the 08:00 hour) the count is scaled to a full hour
  (÷ the open fraction), since Erlang C wants a rate.
- **Mean service minutes** = the hall-wide mean `finished_at − started_at` of the tickets done in those 8 weeks
  (one figure for the hall: an hour holds too few tickets for a steady mean).
- **Recommended counters** = `erlang.staffing(λ, h, target wait = the hall's wait_target_minutes, service level)`
  with `max_counters` = the hall's counters. An hour with no arrivals needs 0. When the hall's counters cannot
  reach the target, the plan shows the best service level they reach (`reachable` false, `best_*`), and also how
  many counters the target needs (`needed`, searched up to 1,000).
- Beside it: **counters open** = the mean counter hours in that hour over the same open days (CounterSession,
  pauses spread over the session), and the **waits seen** = the mean wait (and share within target) of the
  tickets issued in that hour and called (waits as in `kpis`).
A week's day that is closed (weekday or closure) is marked closed and gets no plan.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractIsoWeekDay
from django.utils.translation import gettext as _

from gridcare.org.models import Counter

from . import erlang
from .choices import TicketStatus
from .kpis import (
    ISSUE_HOUR,
    SERVICE,
    WAIT,
    WEEKDAYS,
    add_sheet,
    bounds,
    counter_hours,
    new_workbook,
    parse_date,
    report_hall,
    save_workbook,
)
from .kpis import open_days as open_days_of
from .models import HallClosure, HallProfile, Ticket
from .opening import CHINA

HISTORY_WEEKS = 8
DEFAULT_SERVICE_LEVEL = 0.8
MAX_SEARCH = 1000


def parse_plan_filters(raw_week, raw_level, *, today: date) -> tuple[date, float, dict]:
    """The Monday of the week holding `week` (YYYY-MM-DD, default today) and the service level (0 < x < 1,
    default 0.8), with the errors per field."""
    errors: dict[str, list[str]] = {}
    day = parse_date(raw_week, "week", errors) or today
    level = DEFAULT_SERVICE_LEVEL
    if raw_level not in (None, ""):
        try:
            level = float(str(raw_level).strip())
            if not (math.isfinite(level) and 0 < level < 1):
                raise ValueError
        except ValueError:
            errors["service_level"] = [_("目标服务水平必须在 0 与 1 之间（不含 0 和 1），如 0.8")]
            level = DEFAULT_SERVICE_LEVEL
    monday = day - timedelta(days=day.isoweekday() - 1)
    return monday, level, errors


def open_fraction(profile: HallProfile, hour: int) -> float:
    """How much of the clock hour `hour` the hall is open (0–1)."""
    o = profile.opens_at.hour * 60 + profile.opens_at.minute
    c = profile.closes_at.hour * 60 + profile.closes_at.minute
    return max(0, min(c, (hour + 1) * 60) - max(o, hour * 60)) / 60.0


def plan_hours(profile: HallProfile) -> list[int]:
    return [h for h in range(24) if open_fraction(profile, h) > 0]


def _erlang(
    arrivals: float, service_minutes: float | None, target_seconds: float, level: float, counters: int
):
    """The recommendation for one hour (see the module docstring)."""
    out: dict[str, Any] = {
        "recommended": None,
        "reachable": True,
        "needed": None,
        "service_level": None,
        "asa_seconds": None,
        "occupancy": None,
        "best_counters": None,
        "best_service_level": None,
    }
    if arrivals <= 0:
        out.update(recommended=0, needed=0)
        return out
    if not service_minutes:
        return out  # no service time measured: nothing to plan with
    kw = {
        "arrivals_per_hour": arrivals,
        "mean_service_minutes": service_minutes,
        "target_wait_seconds": target_seconds,
        "target_service_level": level,
    }
    try:
        s = erlang.staffing(**kw, max_counters=max(1, counters))
        out.update(
            recommended=s.counters,
            needed=s.counters,
            service_level=s.service_level,
            asa_seconds=s.asa_seconds,
            occupancy=s.occupancy,
        )
        return out
    except erlang.StaffingUnreachable as exc:
        out.update(
            reachable=False, best_counters=exc.best_counters, best_service_level=exc.best_service_level
        )
    try:
        out["needed"] = erlang.staffing(**kw, max_counters=MAX_SEARCH).counters
    except erlang.StaffingUnreachable:
        out["needed"] = None
    return out


def staffing_plan(*, user, hall_id, week: date, service_level: float, now: datetime) -> dict[str, Any]:
    """The plan for the week starting Monday `week` (see the module docstring); Http404 outside the user's
    scope. Eight queries whatever the history."""
    hall = report_hall(user, hall_id)
    profile = HallProfile.objects.filter(hall=hall).first() or HallProfile(hall=hall)
    h_first, h_last = week - timedelta(days=7 * HISTORY_WEEKS), week - timedelta(days=1)
    week_last = week + timedelta(days=6)
    closed = set(
        HallClosure.objects.filter(hall=hall, day__range=(h_first, week_last)).values_list("day", flat=True)
    )
    days = open_days_of(profile, closed, h_first, h_last)
    open_count: dict[int, int] = defaultdict(int)
    for d in days:
        open_count[d.isoweekday()] += 1
    day_set = set(days)
    counters = Counter.objects.filter(hall=hall).count()
    target_seconds = profile.wait_target_minutes * 60

    tickets = Ticket.objects.filter(hall=hall, day__in=sorted(day_set)) if day_set else Ticket.objects.none()
    arrivals: dict[tuple[int, int], int] = {}
    waits: dict[tuple[int, int], dict] = {}
    grouped = tickets.annotate(w=ExtractIsoWeekDay("day"), h=ISSUE_HOUR).values("w", "h")
    for r in grouped.annotate(n=Count("id")):
        arrivals[(r["w"], r["h"])] = r["n"]
    for r in (
        tickets.filter(first_called_at__isnull=False)
        .annotate(w=ExtractIsoWeekDay("day"), h=ISSUE_HOUR, wait=WAIT)
        .values("w", "h")
        .annotate(n=Count("id"), s=Sum("wait"), within=Count("id", filter=Q(wait__lte=target_seconds + 0.5)))
    ):
        waits[(r["w"], r["h"])] = r
    svc = tickets.filter(status=TicketStatus.DONE, finished_at__isnull=False).aggregate(
        n=Count("id"), s=Sum(SERVICE)
    )
    service_minutes = svc["s"] / svc["n"] / 60.0 if svc["n"] and svc["s"] is not None else None
    if service_minutes is not None and service_minutes <= 0:
        service_minutes = None

    open_hours: dict[tuple[int, int], float] = defaultdict(float)
    if days:
        start, end = bounds(h_first, h_last)
        for (_hall, d, h), v in counter_hours([hall.pk], start, end, now).items():
            if d in day_set:
                open_hours[(d.isoweekday(), h)] += v

    hours = sorted(set(plan_hours(profile)) | {h for _w, h in arrivals})
    week_days = []
    for i in range(7):
        d = week + timedelta(days=i)
        wd = d.isoweekday()
        is_open = str(wd) in profile.open_weekdays and d not in closed
        rows = []
        for h in hours:
            k = open_count[wd]
            n = arrivals.get((wd, h), 0)
            frac = open_fraction(profile, h) or 1.0
            mean_count = n / k if k else 0.0
            lam = mean_count / frac
            w = waits.get((wd, h))
            rec = _erlang(lam, service_minutes, target_seconds, service_level, counters) if is_open else None
            rows.append(
                {
                    "hour": h,
                    "tickets": n,
                    "arrivals_mean": round(mean_count, 4),
                    "arrivals_per_hour": lam,
                    "plan": rec,
                    "counters_open": round(open_hours.get((wd, h), 0.0) / k, 2) if k else None,
                    "wait_mean_minutes": round(w["s"] / w["n"] / 60.0, 2) if w and w["n"] else None,
                    "within_target_share": round(w["within"] / w["n"], 4) if w and w["n"] else None,
                    "waits": w["n"] if w else 0,
                }
            )
        week_days.append(
            {
                "date": d,
                "weekday": wd,
                "label": str(WEEKDAYS[wd - 1]),
                "open": is_open,
                "history_days": open_count[wd],
                "hours": rows,
            }
        )
    return {
        "hall": {"id": hall.pk, "code": hall.code, "name": hall.name},
        "week": {"from": week, "to": week_last},
        "history": {"from": h_first, "to": h_last, "open_days": len(days), "weeks": HISTORY_WEEKS},
        "service_level": service_level,
        "wait_target_minutes": profile.wait_target_minutes,
        "mean_service_minutes": service_minutes,
        "served": svc["n"],
        "counters": counters,
        "hours": hours,
        "days": week_days,
        "as_of": now.astimezone(CHINA),
    }


def plan_chart(doc: dict) -> dict:
    """One line per series over the week's hours (Mon 08, Mon 09 …): recommended vs open counters, and the wait."""
    labels, rec, open_, wait = [], [], [], []
    for d in doc["days"]:
        for r in d["hours"]:
            labels.append(f"{d['label']} {r['hour']:02d}")
            p = r["plan"]
            rec.append(None if p is None else (p["recommended"] if p["reachable"] else p["best_counters"]))
            open_.append(r["counters_open"] if d["open"] else None)
            wait.append(r["wait_mean_minutes"] if d["open"] else None)
    return {
        "labels": labels,
        "recommended": rec,
        "open": open_,
        "wait": wait,
        "target": doc["wait_target_minutes"],
        "names": {
            "recommended": _("建议窗口数"),
            "open": _("实际开窗数（均值）"),
            "wait": _("实际平均等候（分钟）"),
            "target": _("等候时间目标（分钟）"),
        },
    }


def plan_xlsx(doc: dict) -> bytes:
    wb, first = new_workbook(), [True]
    svc = doc["mean_service_minutes"]
    head = (
        f"{doc['hall']['name']} {doc['week']['from']:%Y-%m-%d} — {doc['week']['to']:%Y-%m-%d}；"
        f"{_('历史')} {doc['history']['from']:%Y-%m-%d} — {doc['history']['to']:%Y-%m-%d}；"
        f"{_('平均办理（分钟）')} {'—' if svc is None else round(svc, 2)}；"
        f"{_('目标')} {doc['wait_target_minutes']} {_('分钟')} / {doc['service_level']:.0%}"
    )
    rows = []
    for d in doc["days"]:
        for r in d["hours"]:
            p = r["plan"] or {}
            rows.append(
                [
                    f"{d['date']:%Y-%m-%d}",
                    d["label"],
                    f"{r['hour']:02d}:00",
                    round(r["arrivals_per_hour"], 2),
                    p.get("recommended"),
                    p.get("best_counters"),
                    p.get("best_service_level") if not p.get("reachable", True) else p.get("service_level"),
                    p.get("needed"),
                    r["counters_open"],
                    r["wait_mean_minutes"],
                    r["within_target_share"],
                ]
            )
    add_sheet(
        wb,
        first,
        _("排班建议"),
        head,
        [
            _("日期"),
            _("星期"),
            _("时段"),
            _("到达量（人/小时）"),
            _("建议窗口数"),
            _("现有窗口最多可达"),
            _("服务水平"),
            _("达标所需窗口"),
            _("实际开窗数（均值）"),
            _("实际平均等候（分钟）"),
            _("目标内等候占比"),
        ],
        rows,
        percent_cols=(6, 10),
    )
    return save_workbook(wb)
