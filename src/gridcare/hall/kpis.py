"""Hall KPIs and peak analysis (issue 16 §8), read set-based: a handful of GROUP BY queries over `Ticket` and one
read of `CounterSession`, whatever the number of tickets; the same on SQLite and PostgreSQL.

What counts (the issue is silent on these; Qmatic-style definitions):
- **Tickets**: tickets *issued* in the period (`Ticket.day`, the China day of issue, from..to inclusive), every
  status. Grouping by day or hour uses the day and the China hour of issue.
- **Wait** of a ticket = its first call − the moment it joined the hall: `first_called_at − checked_in_at`, where
  `checked_in_at` is the issue time for a walk-in ticket and the arrival for a remote (portal) ticket, whose wait
  in the hall starts when its holder checks in; `issued_at` when there is no check-in. Only tickets called at
  least once have a wait (a cancelled or expired ticket has none). A transfer does not restart the wait.
  Waits are measured to the second (rounded) for the percentile and the target; the mean is exact.
- **Share within target** = waits ≤ the hall's `wait_target_minutes` (default 15) ÷ waits; each ticket against
  its own hall's target. **p90** = the nearest-rank 90th percentile: the smallest wait w with at least 90 % of
  the waits ≤ w.
- **Service time** = `finished_at − started_at` of done tickets (`started_at` is the call when the clerk did not
  press start).
- **No-show rate** = no-show tickets ÷ tickets called at least once.
- **Tickets per counter-hour** = done tickets ÷ counter hours. Counter hours come from `CounterSession`:
  `closed_at − opened_at − paused_seconds`, an open session up to now (or the period end), clipped to the period;
  a session does not record when its pauses fell, so its paused time is spread evenly over it. Counter hours
  belong to a hall, a day and an hour, not to a category: grouped by category they are shown for the total only.
- **Peaks**: tickets issued per day of month (1–31) × hour, and per ISO weekday × hour, with the open days of
  each (the hall's weekdays less its closure days) so a mean per open day can be read; the month-start (days
  1–5) and month-end (the last 5 days of each month) means per open day against the other days.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, FloatField, Func, Q, Sum
from django.db.models.functions import Coalesce, ExtractDay, ExtractHour, ExtractIsoWeekDay, Round
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.dates import months_back
from gridcare.core.permissions import Perm
from gridcare.core.spreadsheet import as_text_cell
from gridcare.core.validators import clean_date

from . import selectors
from .choices import TicketStatus
from .models import Category, CounterSession, HallClosure, HallProfile, Ticket
from .opening import CHINA, is_open_day

MAX_DAYS = 366
GROUPS = ("hall", "category", "day", "hour")
DEFAULT_WAIT_TARGET = 15
MONTH_EDGE_DAYS = 5


# ---------------------------------------------------------------- SQL helpers


class Seconds(Func):
    """`a − b` in seconds as a float, for two datetime expressions, on SQLite and PostgreSQL."""

    arity = 2
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM (%(expressions)s))::double precision)",
            arg_joiner=" - ",
            **extra,
        )


# Where a ticket's wait starts: its check-in (the issue for a walk-in, the arrival for a remote ticket).
JOINED = Coalesce(F("checked_in_at"), F("issued_at"))
WAIT = Seconds(F("first_called_at"), JOINED)
SERVICE = Seconds(F("finished_at"), Coalesce(F("started_at"), F("called_at")))
ISSUE_HOUR = ExtractHour("issued_at", tzinfo=CHINA)


# ---------------------------------------------------------------- filters


@dataclass
class Filters:
    first: date
    last: date
    errors: dict[str, list[str]] = field(default_factory=dict)


def parse_date(raw: str | None, name: str, errors: dict) -> date | None:
    """An optional YYYY-MM-DD filter (core.validators.clean_date); a bad one is noted in `errors` under `name`."""
    if not raw:
        return None
    try:
        return clean_date(raw, name)
    except ValidationError as exc:
        errors[name] = exc.message_dict.get(name) or exc.messages
        return None


def parse_period(raw_from, raw_to, *, today: date, default: str = "month") -> Filters:
    """`from` / `to` (YYYY-MM-DD, inclusive). Defaults: `to` = today; `from` = the first of `to`'s month
    ("month") or the day after the same day three months before `to` ("quarter", the peak analysis). At most
    366 days; `to` not before `from`."""
    errors: dict[str, list[str]] = {}
    d_from = parse_date(raw_from, "from", errors)
    d_to = parse_date(raw_to, "to", errors) or today
    if d_from is None:
        d_from = d_to.replace(day=1) if default == "month" else months_back(d_to, 3) + timedelta(days=1)
    if not errors:
        if d_to < d_from:
            errors["to"] = [_("截止日不能早于起始日")]
        elif (d_to - d_from).days + 1 > MAX_DAYS:
            errors["to"] = [_("统计期最长 %(n)s 天") % {"n": MAX_DAYS}]
    return Filters(first=d_from, last=d_to, errors=errors)


def parse_group(raw: str | None, errors: dict) -> str:
    value = (raw or "hall").strip()
    if value not in GROUPS:
        errors["group"] = [_("分组应为 hall、category、day 或 hour 之一")]
        return "hall"
    return value


def parse_hall_ids(raws, errors: dict) -> list[int]:
    ids: list[int] = []
    for raw in raws or ():
        raw = str(raw).strip()
        if not raw:
            continue
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            errors["hall"] = [_("营业厅应为营业厅编号（整数 id）")]
            return []
        ids.append(int(raw))
    return sorted(set(ids))


def report_halls(user, hall_ids: list[int]) -> list:
    """The halls a report covers: the given ones (each in the user's scope under hall.report, else Http404),
    or every hall in scope."""
    qs = selectors.halls_for(user, Perm.HALL_REPORT)
    if hall_ids:
        halls = list(qs.filter(pk__in=hall_ids))
        if len(halls) != len(hall_ids):
            raise Http404
        return halls
    return list(qs)


def report_hall(user, hall_id) -> Any:
    hall = selectors.hall_for(user, Perm.HALL_REPORT, hall_id)
    if hall is None:
        raise Http404
    return hall


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(), CHINA),
        datetime.combine(last + timedelta(days=1), time(), CHINA),
    )


def wait_targets(hall_ids) -> dict[int, int]:
    targets = dict(
        HallProfile.objects.filter(hall_id__in=hall_ids).values_list("hall_id", "wait_target_minutes")
    )
    return {h: targets.get(h, DEFAULT_WAIT_TARGET) for h in hall_ids}


# ---------------------------------------------------------------- pure arithmetic


def p90(hist: dict[int, int]) -> int | None:
    """The nearest-rank 90th percentile of a histogram {value: count}: the smallest value with at least 90 % of
    the counts at or below it."""
    n = sum(hist.values())
    if not n:
        return None
    rank = (9 * n + 9) // 10  # ⌈0.9 n⌉
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover


def share(num: int | float, den: int | float, places: int = 4) -> float | None:
    return None if not den else round(num / den, places)


def minutes(seconds: float | None, count: int) -> float | None:
    return None if not count or seconds is None else round(seconds / count / 60.0, 2)


def session_hours(
    *,
    opened_at: datetime,
    closed_at: datetime | None,
    paused_seconds: int,
    paused_since: datetime | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[tuple[date, int], float]:
    """The counter hours of one session inside [start, end), per (China day, hour): the session runs from
    `opened_at` to `closed_at` (an open one to `now`); its paused time (recorded pauses plus a pause still under
    way) is spread evenly over it."""
    stop = closed_at or now
    full = (stop - opened_at).total_seconds()
    if full <= 0:
        return {}
    paused = float(paused_seconds or 0)
    if closed_at is None and paused_since is not None:
        paused += max(0.0, (now - paused_since).total_seconds())
    worked = max(0.0, 1.0 - paused / full)
    a, b = max(opened_at, start), min(stop, end)
    out: dict[tuple[date, int], float] = defaultdict(float)
    cur = a.astimezone(CHINA)
    b = b.astimezone(CHINA)
    while cur < b:
        nxt = min(b, cur.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        out[(cur.date(), cur.hour)] += (nxt - cur).total_seconds() / 3600.0 * worked
        cur = nxt
    return dict(out)


def counter_hours(
    hall_ids, start: datetime, end: datetime, now: datetime
) -> dict[tuple[int, date, int], float]:
    """Counter hours per (hall, China day, hour) in [start, end), from the sessions overlapping it (one query)."""
    end = min(end, max(start, now))
    rows = CounterSession.objects.filter(counter__hall_id__in=hall_ids, opened_at__lt=end).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=start)
    )
    out: dict[tuple[int, date, int], float] = defaultdict(float)
    for hall_id, opened, closed, paused, since in rows.values_list(
        "counter__hall_id", "opened_at", "closed_at", "paused_seconds", "paused_since"
    ):
        pieces = session_hours(
            opened_at=opened,
            closed_at=closed,
            paused_seconds=paused,
            paused_since=since,
            start=start,
            end=end,
            now=now,
        )
        for (d, h), v in pieces.items():
            out[(hall_id, d, h)] += v
    return dict(out)


def open_days(profile: HallProfile | None, closed: set[date], first: date, last: date) -> list[date]:
    weekdays = profile.open_weekdays if profile is not None else "1234567"
    out, d = [], first
    while d <= last:
        if is_open_day(weekdays, closed, d):
            out.append(d)
        d += timedelta(days=1)
    return out


# ---------------------------------------------------------------- KPIs


def _key_expr(group: str):
    return {
        "hall": F("hall_id"),
        "category": F("category_id"),
        "day": F("day"),
        "hour": ISSUE_HOUR,
    }[group]


def _blank() -> dict[str, Any]:
    return {
        "tickets": 0,
        "called": 0,
        "no_show": 0,
        "served": 0,
        "service_seconds": 0.0,
        "wait_seconds": 0.0,
        "hist": defaultdict(int),
        "within": 0,
        "counter_hours": 0.0,
    }


def _finish_row(acc: dict, *, key, label, with_hours: bool = True) -> dict[str, Any]:
    waits = sum(acc["hist"].values())
    top = p90(acc["hist"])
    hours = round(acc["counter_hours"], 4) if with_hours else None
    return {
        "key": key,
        "label": label,
        "tickets": acc["tickets"],
        "called": acc["called"],
        "waits": waits,
        "wait_mean_minutes": minutes(acc["wait_seconds"], waits),
        "wait_p90_minutes": None if top is None else round(top / 60.0, 2),
        "within_target": acc["within"],
        "within_target_share": share(acc["within"], waits),
        "served": acc["served"],
        "service_mean_minutes": minutes(acc["service_seconds"], acc["served"]),
        "no_show": acc["no_show"],
        "no_show_rate": share(acc["no_show"], acc["called"]),
        "counter_hours": hours,
        "tickets_per_counter_hour": (
            None
            if not with_hours or not acc["counter_hours"]
            else round(acc["served"] / acc["counter_hours"], 2)
        ),
    }


def hall_kpis(
    *, user, hall_ids: list[int], first: date, last: date, group: str, now: datetime
) -> dict[str, Any]:
    """The KPIs of the halls (in the user's scope; Http404 for one outside it) over the period, grouped by hall,
    category, day or hour, with the total row. Six queries whatever the data."""
    halls = report_halls(user, hall_ids)
    ids = [h.pk for h in halls]
    targets = wait_targets(ids)
    start, end = bounds(first, last)
    tickets = Ticket.objects.filter(hall_id__in=ids, day__range=(first, last)).annotate(k=_key_expr(group))
    accs: dict[Any, dict] = defaultdict(_blank)
    total = _blank()

    counts = tickets.values("k").annotate(
        n=Count("id"),
        called=Count("id", filter=Q(first_called_at__isnull=False)),
        no_show=Count("id", filter=Q(status=TicketStatus.NO_SHOW)),
        served=Count("id", filter=Q(status=TicketStatus.DONE, finished_at__isnull=False)),
        service=Sum(SERVICE, filter=Q(status=TicketStatus.DONE, finished_at__isnull=False)),
    )
    for r in counts:
        for acc in (accs[r["k"]], total):
            acc["tickets"] += r["n"]
            acc["called"] += r["called"]
            acc["no_show"] += r["no_show"]
            acc["served"] += r["served"]
            acc["service_seconds"] += r["service"] or 0.0

    waits = (
        tickets.filter(first_called_at__isnull=False)
        .annotate(wait=WAIT, bucket=Round(WAIT))
        .values("k", "hall_id", "bucket")
        .annotate(n=Count("id"), s=Sum("wait"))
    )
    for r in waits:
        bucket = max(0, int(r["bucket"] or 0))
        within = r["n"] if bucket <= targets[r["hall_id"]] * 60 else 0
        for acc in (accs[r["k"]], total):
            acc["hist"][bucket] += r["n"]
            acc["wait_seconds"] += r["s"] or 0.0
            acc["within"] += within

    hours = counter_hours(ids, start, end, now)
    for (hall_id, d, h), v in hours.items():
        total["counter_hours"] += v
        k = {"hall": hall_id, "day": d, "hour": h}.get(group)
        if k is not None:
            accs[k]["counter_hours"] += v

    with_hours = group != "category"
    rows: list[dict] = []
    if group == "hall":
        for h in halls:
            rows.append(_finish_row(accs[h.pk], key=h.pk, label=f"{h.code} {h.name}"))
    elif group == "category":
        cats = {c.pk: c for c in Category.objects.filter(pk__in=[k for k in accs if k is not None])}
        for k in sorted(accs, key=lambda k: (cats[k].sort, cats[k].letter) if k in cats else (0, "")):
            rows.append(_finish_row(accs[k], key=k, label=str(cats.get(k, k)), with_hours=False))
    elif group == "day":
        d = first
        while d <= last:
            rows.append(_finish_row(accs[d], key=d, label=f"{d:%Y-%m-%d}"))
            d += timedelta(days=1)
    else:
        present = [k for k, a in accs.items() if a["tickets"] or a["counter_hours"]]
        lo, hi = (min(present), max(present)) if present else (8, 17)
        for h in range(lo, hi + 1):
            rows.append(_finish_row(accs[h], key=h, label=f"{h:02d}:00"))
    return {
        "period": {"from": first, "to": last},
        "group": group,
        "as_of": now,
        "halls": [
            {"id": h.pk, "code": h.code, "name": h.name, "wait_target_minutes": targets[h.pk]} for h in halls
        ],
        "rows": rows,
        "total": _finish_row(total, key=None, label=_("合计"), with_hours=True),
        "counter_hours_by_row": with_hours,
    }


# ---------------------------------------------------------------- peaks


def _month_edge(d: date) -> str:
    if d.day <= MONTH_EDGE_DAYS:
        return "start"
    if d.day > calendar.monthrange(d.year, d.month)[1] - MONTH_EDGE_DAYS:
        return "end"
    return "other"


def hall_peaks(*, user, hall_id, first: date, last: date) -> dict[str, Any]:
    """Arrivals (tickets issued) of one hall over the period: day of month × hour, ISO weekday × hour, and the
    month-start / month-end means per open day. Five queries."""
    hall = report_hall(user, hall_id)
    profile = HallProfile.objects.filter(hall=hall).first()
    closed = set(
        HallClosure.objects.filter(hall=hall, day__range=(first, last)).values_list("day", flat=True)
    )
    days = open_days(profile, closed, first, last)
    tickets = Ticket.objects.filter(hall=hall, day__range=(first, last))
    dom: dict[tuple[int, int], int] = {}
    for r in tickets.annotate(d=ExtractDay("day"), h=ISSUE_HOUR).values("d", "h").annotate(n=Count("id")):
        dom[(r["d"], r["h"])] = r["n"]
    wd: dict[tuple[int, int], int] = {}
    for r in (
        tickets.annotate(w=ExtractIsoWeekDay("day"), h=ISSUE_HOUR).values("w", "h").annotate(n=Count("id"))
    ):
        wd[(r["w"], r["h"])] = r["n"]
    per_day = dict(tickets.values("day").annotate(n=Count("id")).values_list("day", "n"))

    hours_seen = {h for _d, h in dom}
    if profile is not None:
        hours_seen |= set(
            range(profile.opens_at.hour, profile.closes_at.hour + (1 if profile.closes_at.minute else 0))
        )
    hours = list(range(min(hours_seen), max(hours_seen) + 1)) if hours_seen else list(range(8, 18))

    dom_days: dict[int, int] = defaultdict(int)
    wd_days: dict[int, int] = defaultdict(int)
    edge_days: dict[str, int] = defaultdict(int)
    edge_tickets: dict[str, int] = defaultdict(int)
    for d in days:
        dom_days[d.day] += 1
        wd_days[d.isoweekday()] += 1
        edge_days[_month_edge(d)] += 1
    for d, n in per_day.items():
        edge_tickets[_month_edge(d)] += n

    def mean(n: int, k: int) -> float | None:
        return None if not k else round(n / k, 2)

    dom_rows = []
    for dm in range(1, 32):
        cells = [dom.get((dm, h), 0) for h in hours]
        dom_rows.append(
            {
                "day": dm,
                "cells": cells,
                "total": sum(cells),
                "open_days": dom_days[dm],
                "mean_per_day": mean(sum(cells), dom_days[dm]),
            }
        )
    wd_rows = []
    for w in range(1, 8):
        cells = [wd.get((w, h), 0) for h in hours]
        wd_rows.append(
            {
                "weekday": w,
                "label": str(WEEKDAYS[w - 1]),
                "cells": cells,
                "total": sum(cells),
                "open_days": wd_days[w],
                "mean_per_day": mean(sum(cells), wd_days[w]),
            }
        )
    edges = {
        k: {
            "open_days": edge_days[k],
            "tickets": edge_tickets[k],
            "mean_per_day": mean(edge_tickets[k], edge_days[k]),
        }
        for k in ("start", "end", "other")
    }
    return {
        "hall": {"id": hall.pk, "code": hall.code, "name": hall.name},
        "period": {"from": first, "to": last},
        "hours": hours,
        "day_of_month": dom_rows,
        "weekday": wd_rows,
        "month_edges": edges,
        "tickets": sum(per_day.values()),
        "open_days": len(days),
    }


# ---------------------------------------------------------------- JSON, charts, Excel


def plain(value):
    if isinstance(value, datetime):
        return value.astimezone(CHINA).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


KPI_COLUMNS = [
    ("tickets", gettext_lazy("取号量")),
    ("called", gettext_lazy("已叫号")),
    ("wait_mean_minutes", gettext_lazy("平均等候（分钟）")),
    ("wait_p90_minutes", gettext_lazy("90%等候（分钟）")),
    ("within_target_share", gettext_lazy("目标内等候占比")),
    ("served", gettext_lazy("已办结")),
    ("service_mean_minutes", gettext_lazy("平均办理（分钟）")),
    ("no_show", gettext_lazy("过号")),
    ("no_show_rate", gettext_lazy("过号率")),
    ("counter_hours", gettext_lazy("窗口工时")),
    ("tickets_per_counter_hour", gettext_lazy("每窗口小时办结量")),
]
PERCENT_KEYS = ("within_target_share", "no_show_rate")
WEEKDAYS = [
    gettext_lazy("周一"),
    gettext_lazy("周二"),
    gettext_lazy("周三"),
    gettext_lazy("周四"),
    gettext_lazy("周五"),
    gettext_lazy("周六"),
    gettext_lazy("周日"),
]


def kpi_chart(doc: dict) -> dict:
    return {
        "labels": [str(r["label"]) for r in doc["rows"]],
        "wait_mean": [r["wait_mean_minutes"] for r in doc["rows"]],
        "wait_p90": [r["wait_p90_minutes"] for r in doc["rows"]],
        "within": [
            None if r["within_target_share"] is None else round(r["within_target_share"] * 100, 2)
            for r in doc["rows"]
        ],
        "service_mean": [r["service_mean_minutes"] for r in doc["rows"]],
        "tickets": [r["tickets"] for r in doc["rows"]],
        "per_counter_hour": [r["tickets_per_counter_hour"] for r in doc["rows"]],
        "names": {
            "wait_mean": _("平均等候（分钟）"),
            "wait_p90": _("90%等候（分钟）"),
            "within": _("目标内等候占比（%）"),
            "service_mean": _("平均办理（分钟）"),
            "tickets": _("取号量"),
            "per_counter_hour": _("每窗口小时办结量"),
        },
    }


def peaks_chart(doc: dict) -> dict:
    hours = doc["hours"]
    return {
        "hours": [f"{h:02d}" for h in hours],
        "days": [str(r["day"]) for r in doc["day_of_month"]],
        "weekdays": [str(w) for w in WEEKDAYS],
        "dom": [[i, j, r["cells"][i]] for j, r in enumerate(doc["day_of_month"]) for i in range(len(hours))],
        "wd": [[i, j, r["cells"][i]] for j, r in enumerate(doc["weekday"]) for i in range(len(hours))],
        "max": max([c for r in doc["day_of_month"] for c in r["cells"]] or [0]),
        "wd_max": max([c for r in doc["weekday"] for c in r["cells"]] or [0]),
        "names": {"arrivals": _("取号量")},
    }


def new_workbook():
    from openpyxl import Workbook

    return Workbook()


def add_sheet(wb, first: list, title: str, head: str, header: list, rows: list, percent_cols=()):
    from openpyxl.styles import Font

    ws = wb.active if first[0] else wb.create_sheet()
    first[0] = False
    ws.title = title[:31]
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([head])
    ws.append([])
    ws.append(header)
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([as_text_cell(v) for v in r])
        for c in percent_cols:
            ws.cell(row=ws.max_row, column=c + 1).number_format = "0.00%"
    ws.freeze_panes = "A5"
    return ws


def save_workbook(wb) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def kpis_xlsx(doc: dict) -> bytes:
    wb, first = new_workbook(), [True]
    head = (
        f"{'、'.join(h['name'] for h in doc['halls'])} {doc['period']['from']:%Y-%m-%d} — "
        f"{doc['period']['to']:%Y-%m-%d}"
    )
    header = [_("分组"), *(str(label) for _k, label in KPI_COLUMNS)]
    pct = tuple(i + 1 for i, (k, _l) in enumerate(KPI_COLUMNS) if k in PERCENT_KEYS)
    rows = [[str(r["label"]), *(r[k] for k, _l in KPI_COLUMNS)] for r in [*doc["rows"], doc["total"]]]
    add_sheet(wb, first, _("营业厅指标"), head, header, rows, pct)
    add_sheet(
        wb,
        first,
        _("等候目标"),
        head,
        [_("营业厅编号"), _("营业厅"), _("等候时间目标（分钟）")],
        [[h["code"], h["name"], h["wait_target_minutes"]] for h in doc["halls"]],
    )
    return save_workbook(wb)


def peaks_xlsx(doc: dict) -> bytes:
    wb, first = new_workbook(), [True]
    head = f"{doc['hall']['name']} {doc['period']['from']:%Y-%m-%d} — {doc['period']['to']:%Y-%m-%d}"
    hours = [f"{h:02d}:00" for h in doc["hours"]]
    add_sheet(
        wb,
        first,
        _("日期×时段"),
        head,
        [_("日"), *hours, _("合计"), _("营业天数"), _("日均")],
        [[r["day"], *r["cells"], r["total"], r["open_days"], r["mean_per_day"]] for r in doc["day_of_month"]],
    )
    add_sheet(
        wb,
        first,
        _("星期×时段"),
        head,
        [_("星期"), *hours, _("合计"), _("营业天数"), _("日均")],
        [
            [str(WEEKDAYS[r["weekday"] - 1]), *r["cells"], r["total"], r["open_days"], r["mean_per_day"]]
            for r in doc["weekday"]
        ],
    )
    e = doc["month_edges"]
    add_sheet(
        wb,
        first,
        _("月初月末"),
        head,
        [_("时段"), _("取号量"), _("营业天数"), _("日均")],
        [
            [label, e[k]["tickets"], e[k]["open_days"], e[k]["mean_per_day"]]
            for k, label in (
                ("start", _("月初（1–5日）")),
                ("end", _("月末（最后5天）")),
                ("other", _("其他日期")),
            )
        ],
    )
    return save_workbook(wb)
