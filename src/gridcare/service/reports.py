"""Reports of the 95598 service (issue 15 §3 and §9), for a unit with its descendants and a period of China dates
(both inclusive). Every figure is aggregated in SQL (a dozen GROUP BY queries whatever the number of orders) and
every rate is computed exactly on integers, rounded half-up to 0.01.

What counts:
- **Volumes**: orders *received* in the period (merged duplicates included, shown apart), by type and sub-type,
  channel, unit (the chosen unit's direct children, each with its subtree) and month (China time).
- **On-time rate per time limit** (deadline name × type/sub-type), on the deadlines of the orders received in the
  period, merged duplicates left out: on time = met with `met_at ≤ due_at`; late = met after `due_at`, or still
  unmet when `due_at` has passed at `as_of` (overdue, open or not); pending (unmet, not yet due) is shown but not
  counted. Rate = on time ÷ (on time + late). Provisional deadlines (a date in a calendar year not loaded) are
  counted too.
- **Complaints per 10,000 customers** = substantiated (属实) complaints received in the period (merged duplicates
  left out) ÷ accounts in service on the period's last day in the unit subtree × 10,000; all complaints likewise
  for reference.
- **Callback satisfaction rate** = (满意 + 基本满意) ÷ rated callbacks, over the callbacks recorded in the period
  (every callback counts, also a 不满意 one that reopened its order); the portal ratings likewise.
- **Average arrival and restoration times by area type** (the commitment is an average): fault orders received in
  the period (merged duplicates left out) whose clock was met; arrival = `received_at →` the first arrival on site
  (when the arrival clock was met: a visit after a 不满意 callback is not the commitment's), restoration = the
  arrival → the restoration (the restoration clock, from the last arrival) — for an order handled once, exactly
  `received_at → arrived_at` and `arrived_at → resolved_at`; in minutes, against the commitment of the policy
  table; also how many single orders missed it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils.translation import gettext as _

from gridcare.core.permissions import Perm
from gridcare.core.scoping import may_act_on_unit
from gridcare.core.spreadsheet import as_text_cell

from .choices import (
    DEADLINE_ORDER,
    AreaKind,
    ComplaintSubType,
    DeadlineName,
    OrderChannel,
    OrderType,
    Satisfaction,
    ServiceRequestSubType,
    Step,
)
from .deadlines import CHINA
from .lifecycle import TERMINAL
from .models import WorkOrder, WorkOrderDeadline, WorkOrderEvent
from .policies import load_rows, rules_for

MAX_PERIOD_DAYS = 3653  # ten years
SUB_LABELS = {**dict(ServiceRequestSubType.choices), **dict(ComplaintSubType.choices)}
TYPE_ORDER = list(OrderType.values)
SUB_ORDER = [*ServiceRequestSubType.values, *ComplaintSubType.values]
GOOD = (Satisfaction.SATISFIED, Satisfaction.BASIC)


# ---------------------------------------------------------------- exact arithmetic


def ratio(num: int, den: int, scale: int = 100) -> Decimal | None:
    """num × scale ÷ den rounded half-up to 0.01, exactly (integers only); None when den is 0."""
    if not den:
        return None
    hundredths = (2 * num * scale * 100 + den) // (2 * den)
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


def rate(num: int, den: int) -> Decimal | None:
    """A percentage to 0.01 %, half-up."""
    return ratio(num, den, 100)


def _microseconds(value) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    return int(value)  # a backend answering the sum as a number of microseconds


def avg_minutes(total_us: int, count: int) -> Decimal | None:
    """The mean of `count` durations summing to `total_us` microseconds, in minutes to 0.01, half-up."""
    return ratio(total_us, count * 60_000_000, 1)


# ---------------------------------------------------------------- period and unit


def default_period(today: date) -> tuple[date, date]:
    """The last 12 months: the first day of the month eleven months back, to today."""
    month = today.month - 11
    year = today.year
    if month < 1:
        month += 12
        year -= 1
    return date(year, month, 1), today


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date, dict]:
    """The period from `from` / `to` (YYYY-MM-DD; each defaults to the last 12 months'), and the errors per field."""
    d_from, d_to = default_period(today)
    errors: dict[str, list[str]] = {}

    def parse(raw: str, name: str) -> date | None:
        try:
            if len(raw) != 10:
                raise ValueError
            value = date.fromisoformat(raw)
            if not 2000 <= value.year <= 2100:
                raise ValueError
            return value
        except ValueError:
            errors[name] = [_("日期格式应为 YYYY-MM-DD（2000–2100年）")]
            return None

    if raw_from:
        d_from = parse(raw_from.strip(), "from") or d_from
    if raw_to:
        d_to = parse(raw_to.strip(), "to") or d_to
    if not errors:
        if d_to < d_from:
            errors["to"] = [_("截止日不能早于起始日")]
        elif (d_to - d_from).days + 1 > MAX_PERIOD_DAYS:
            errors["to"] = [_("统计期最长 %(n)s 天（10年）") % {"n": MAX_PERIOD_DAYS}]
    return d_from, d_to, errors


def report_unit(user, unit_id: int | None):
    """The unit a report is about (default: the user's own), when the user may view work orders on it; else
    Http404 (missing and forbidden alike)."""
    from gridcare.org.models import SupplyUnit

    if unit_id is None:
        unit_id = getattr(user, "unit_id", None)
    if unit_id is None or not may_act_on_unit(user, unit_id, Perm.WORKORDER_VIEW):
        raise Http404
    return SupplyUnit.objects.only("id", "code", "name", "path").get(pk=unit_id)


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(), CHINA),
        datetime.combine(last + timedelta(days=1), time(), CHINA),
    )


def _months(first: date, last: date) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# ---------------------------------------------------------------- the report


def service_report(*, user, unit_id: int | None, first: date, last: date, as_of: datetime) -> dict[str, Any]:
    """Every figure of the service reports for the unit subtree and the period (see the module docstring).
    `as_of` decides which unmet deadlines are overdue."""
    from gridcare.customers.models import Account
    from gridcare.org.models import SupplyUnit

    unit = report_unit(user, unit_id)
    units = list(
        SupplyUnit.objects.filter(path__startswith=unit.path)
        .order_by("path")
        .values("id", "code", "name", "path", "parent_id")
    )
    ids = [u["id"] for u in units]
    start, end = _bounds(first, last)
    received = WorkOrder.objects.filter(unit_id__in=ids, received_at__gte=start, received_at__lt=end)

    # One GROUP BY for volumes by type, sub-type, channel, unit and status, and the complaint counts.
    groups = list(
        received.values("unit_id", "order_type", "sub_type", "channel", "status", "substantiated")
        .annotate(n=Count("id"))
        .order_by()
    )
    monthly_rows = list(
        received.annotate(month=TruncMonth("received_at", tzinfo=CHINA))
        .values("month", "order_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    accounts_by_unit = dict(
        Account.objects.filter(unit_id__in=ids, opened_on__lte=last)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=last))
        .values("unit_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("unit_id", "n")
    )
    return {
        "unit": {"id": unit.pk, "code": unit.code, "name": unit.name},
        "period": {"from": first, "to": last},
        "as_of": as_of,
        "volumes": _volumes(groups, monthly_rows, units, unit, accounts_by_unit, first, last),
        "on_time": _on_time(received, as_of),
        "complaints": _complaints(groups, sum(accounts_by_unit.values())),
        "satisfaction": _satisfaction(ids, start, end),
        "times": _times(received),
    }


def _type_counts(rows) -> dict[str, int]:
    out = dict.fromkeys(TYPE_ORDER, 0)
    for r in rows:
        out[r["order_type"]] += r["n"]
    return out


def _volumes(groups, monthly_rows, units, unit, accounts_by_unit, first, last) -> dict:
    types = dict(OrderType.choices)
    by_type = []
    for t in TYPE_ORDER:
        rows = [g for g in groups if g["order_type"] == t]
        by_type.append(
            {
                "type": t,
                "label": str(types[t]),
                "count": sum(g["n"] for g in rows),
                "open": sum(g["n"] for g in rows if g["status"] not in TERMINAL),
                "closed": sum(g["n"] for g in rows if g["status"] == Step.CLOSED),
                "merged": sum(g["n"] for g in rows if g["status"] == Step.MERGED),
            }
        )
    by_sub_type = []
    for t in (OrderType.COMPLAINT, OrderType.SERVICE_REQUEST):
        subs = ComplaintSubType.values if t == OrderType.COMPLAINT else ServiceRequestSubType.values
        for s in [*subs, ""] if t == OrderType.COMPLAINT else subs:
            n = sum(g["n"] for g in groups if g["order_type"] == t and g["sub_type"] == s)
            by_sub_type.append(
                {
                    "type": str(t),
                    "type_label": str(types[t]),
                    "sub_type": s,
                    "label": str(SUB_LABELS[s]) if s else _("未分类"),
                    "count": n,
                }
            )
    channels = dict(OrderChannel.choices)
    by_channel = []
    for c in OrderChannel.values:
        rows = [g for g in groups if g["channel"] == c]
        by_channel.append(
            {
                "channel": c,
                "label": str(channels[c]),
                "count": sum(g["n"] for g in rows),
                "by_type": _type_counts(rows),
            }
        )
    # Rows per direct child of the chosen unit (each with its subtree), and the unit itself for its own orders.
    children = [u for u in units if u["parent_id"] == unit.pk]
    owner: dict[int, int] = {unit.pk: unit.pk}
    for u in units:
        for ch in children:
            if u["path"].startswith(ch["path"]):
                owner[u["id"]] = ch["id"]
    rows_of: dict[int, list] = defaultdict(list)
    for g in groups:
        rows_of[owner[g["unit_id"]]].append(g)
    accounts_of: dict[int, int] = defaultdict(int)
    for uid, n in accounts_by_unit.items():
        accounts_of[owner[uid]] += n
    by_unit = []
    for u in [next(x for x in units if x["id"] == unit.pk), *children]:
        rows = rows_of.get(u["id"], [])
        if u["id"] == unit.pk and children and not rows and not accounts_of.get(u["id"]):
            continue  # the unit itself holds nothing: its children say it all
        complaints = [
            r for r in rows if r["order_type"] == OrderType.COMPLAINT and r["status"] != Step.MERGED
        ]
        substantiated = sum(r["n"] for r in complaints if r["substantiated"] is True)
        accounts = accounts_of.get(u["id"], 0)
        by_unit.append(
            {
                "unit_id": u["id"],
                "code": u["code"],
                "name": u["name"] + (_("（本级）") if u["id"] == unit.pk and children else ""),
                "count": sum(r["n"] for r in rows),
                "by_type": _type_counts(rows),
                "accounts": accounts,
                "substantiated_complaints": substantiated,
                "complaints_per_10k": ratio(substantiated, accounts, 10_000),
            }
        )
    per_month: dict[str, dict[str, int]] = {m: dict.fromkeys(TYPE_ORDER, 0) for m in _months(first, last)}
    for r in monthly_rows:
        m = r["month"]
        if m is None:
            continue
        key = (
            f"{m.astimezone(CHINA).year:04d}-{m.astimezone(CHINA).month:02d}"
            if isinstance(m, datetime)
            else m
        )
        if key in per_month:
            per_month[key][r["order_type"]] += r["n"]
    monthly = [{"month": k, "count": sum(v.values()), "by_type": v} for k, v in per_month.items()]
    return {
        "total": sum(g["n"] for g in groups),
        "by_type": by_type,
        "by_sub_type": by_sub_type,
        "by_channel": by_channel,
        "by_unit": by_unit,
        "monthly": monthly,
    }


def _on_time(received, as_of: datetime) -> dict:
    rows = list(
        WorkOrderDeadline.objects.filter(order__in=received.exclude(status=Step.MERGED).values("id"))
        .values("name", "order__order_type", "order__sub_type")
        .annotate(
            on_time=Count("id", filter=Q(met_at__isnull=False, met_at__lte=F("due_at"))),
            late_met=Count("id", filter=Q(met_at__gt=F("due_at"))),
            overdue=Count("id", filter=Q(met_at__isnull=True, due_at__lt=as_of)),
            pending=Count("id", filter=Q(met_at__isnull=True, due_at__gte=as_of)),
            provisional=Count("id", filter=Q(provisional=True)),
        )
        .order_by()
    )
    names, types = dict(DeadlineName.choices), dict(OrderType.choices)

    def row(name: str, label_type: str, label_sub: str, t: str, s: str, parts: list[dict]) -> dict:
        on_time = sum(p["on_time"] for p in parts)
        late_met = sum(p["late_met"] for p in parts)
        overdue = sum(p["overdue"] for p in parts)
        return {
            "deadline": name,
            "deadline_label": str(names.get(name, name)),
            "type": t,
            "type_label": label_type,
            "sub_type": s,
            "sub_type_label": label_sub,
            "on_time": on_time,
            "late": late_met + overdue,
            "late_met": late_met,
            "overdue": overdue,
            "pending": sum(p["pending"] for p in parts),
            "provisional": sum(p["provisional"] for p in parts),
            "rate": rate(on_time, on_time + late_met + overdue),
        }

    def key(r):
        return (
            DEADLINE_ORDER.index(r["name"]) if r["name"] in DEADLINE_ORDER else 99,
            TYPE_ORDER.index(r["order__order_type"]),
            SUB_ORDER.index(r["order__sub_type"]) if r["order__sub_type"] in SUB_ORDER else -1,
        )

    detail = []
    for r in sorted(rows, key=key):
        t, s = r["order__order_type"], r["order__sub_type"]
        detail.append(row(r["name"], str(types[t]), str(SUB_LABELS[s]) if s else "", t, s, [r]))
    totals = []
    for name in DEADLINE_ORDER:
        parts = [r for r in rows if r["name"] == name]
        if parts:
            totals.append(row(name, _("全部"), "", "", "", parts))
    return {"rows": detail, "totals": totals, "overall": row("", _("全部"), "", "", "", rows)}


def _complaints(groups, accounts: int) -> dict:
    rows = [g for g in groups if g["order_type"] == OrderType.COMPLAINT and g["status"] != Step.MERGED]
    total = sum(g["n"] for g in rows)
    substantiated = sum(g["n"] for g in rows if g["substantiated"] is True)
    by_sub_type = []
    for s in [*ComplaintSubType.values, ""]:
        part = [g for g in rows if g["sub_type"] == s]
        sub_true = sum(g["n"] for g in part if g["substantiated"] is True)
        by_sub_type.append(
            {
                "sub_type": s,
                "label": str(SUB_LABELS[s]) if s else _("未分类"),
                "complaints": sum(g["n"] for g in part),
                "substantiated": sub_true,
                "per_10k": ratio(sub_true, accounts, 10_000),
            }
        )
    return {
        "accounts": accounts,
        "complaints": total,
        "substantiated": substantiated,
        "not_substantiated": sum(g["n"] for g in rows if g["substantiated"] is False),
        "undetermined": sum(g["n"] for g in rows if g["substantiated"] is None),
        "per_10k": ratio(substantiated, accounts, 10_000),
        "all_per_10k": ratio(total, accounts, 10_000),
        "by_sub_type": by_sub_type,
    }


def _split(counts: dict[str, int]) -> dict:
    good = sum(counts.get(s, 0) for s in GOOD)
    rated = good + counts.get(Satisfaction.UNSATISFIED, 0)
    return {
        "satisfied": counts.get(Satisfaction.SATISFIED, 0),
        "basic": counts.get(Satisfaction.BASIC, 0),
        "unsatisfied": counts.get(Satisfaction.UNSATISFIED, 0),
        "rated": rated,
        "rate": rate(good, rated),
    }


def _satisfaction(ids: list[int], start: datetime, end: datetime) -> dict:
    events = WorkOrderEvent.objects.filter(order__unit_id__in=ids, at__gte=start, at__lt=end)
    callbacks = list(
        events.filter(action="callback")
        .values("order__order_type", "data__satisfaction")
        .annotate(n=Count("id"))
        .order_by()
    )
    ratings = list(events.filter(action="rate").values("data__rating").annotate(n=Count("id")).order_by())
    total: dict[str, int] = defaultdict(int)
    per_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in callbacks:
        total[r["data__satisfaction"]] += r["n"]
        per_type[r["order__order_type"]][r["data__satisfaction"]] += r["n"]
    types = dict(OrderType.choices)
    by_type = [
        {"type": t, "label": str(types[t]), **_split(per_type[t])} for t in TYPE_ORDER if t in per_type
    ]
    portal: dict[str, int] = defaultdict(int)
    for r in ratings:
        portal[r["data__rating"]] += r["n"]
    return {"callbacks": _split(total), "by_type": by_type, "portal": _split(portal)}


def _commitment_minutes(rows, area: str, name: str) -> int | None:
    for rule in rules_for(rows, OrderType.FAULT, "", area):
        if rule.name == name:
            return rule.amount * {"minutes": 1, "hours": 60}.get(rule.unit, 0) or None
    return None


def _times(received) -> dict:
    # On the clocks themselves: the arrival clock is met by the first arrival on site (a reopened order's later
    # visit is not the commitment's), the restoration clock runs from the arrival it was set from to the restoration.
    faults = received.filter(order_type=OrderType.FAULT).exclude(status=Step.MERGED)
    arrival = ExpressionWrapper(F("met_at") - F("order__received_at"), output_field=DurationField())
    repair = ExpressionWrapper(F("met_at") - F("starts_at"), output_field=DurationField())
    rows_by = {
        (r["name"], r["order__area"]): r
        for r in WorkOrderDeadline.objects.filter(
            order__in=faults.values("id"), name__in=["arrival", "restoration"], met_at__isnull=False
        )
        .values("name", "order__area")
        .annotate(
            n=Count("id"),
            arrival_sum=Sum(arrival, filter=Q(name="arrival")),
            restoration_sum=Sum(repair, filter=Q(name="restoration")),
            late=Count("id", filter=Q(met_at__gt=F("due_at"))),
        )
        .order_by()
    }
    policy = load_rows()
    rows = []
    for area, label in AreaKind.choices:
        out = {"area": area, "label": str(label)}
        for name in ("arrival", "restoration"):
            r = rows_by.get((name, area), {})
            n = r.get("n", 0)
            avg = avg_minutes(_microseconds(r.get(f"{name}_sum")), n)
            commitment = _commitment_minutes(policy, area, name)
            out[name] = {
                "count": n,
                "avg_minutes": avg,
                "commitment_minutes": commitment,
                "within": None if avg is None or commitment is None else avg <= commitment,
                "late_orders": r.get("late", 0),
            }
        rows.append(out)
    return {"rows": rows}


# ---------------------------------------------------------------- JSON (API) and charts


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(CHINA).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def report_json(doc: dict) -> dict:
    """The report with rates as exact decimal strings ("97.35") and dates in ISO form."""
    return _plain(doc)


def chart_data(doc: dict) -> dict:
    """What the page's charts draw (reports.js): plain numbers and labels."""
    types = [(t["type"], t["label"]) for t in doc["volumes"]["by_type"]]
    v = doc["volumes"]

    def num(x):
        return None if x is None else float(x)

    return {
        "types": [label for _t, label in types],
        "by_type": [t["count"] for t in v["by_type"]],
        "channels": [c["label"] for c in v["by_channel"]],
        "channel_stack": [[c["by_type"][t] for c in v["by_channel"]] for t, _l in types],
        "units": [u["name"] for u in v["by_unit"]],
        "unit_stack": [[u["by_type"][t] for u in v["by_unit"]] for t, _l in types],
        "months": [m["month"] for m in v["monthly"]],
        "month_stack": [[m["by_type"][t] for m in v["monthly"]] for t, _l in types],
        "on_time": {
            "names": [r["deadline_label"] for r in doc["on_time"]["totals"]],
            "rates": [num(r["rate"]) for r in doc["on_time"]["totals"]],
        },
        "areas": [r["label"] for r in doc["times"]["rows"]],
        "arrival": [num(r["arrival"]["avg_minutes"]) for r in doc["times"]["rows"]],
        "arrival_commitment": [r["arrival"]["commitment_minutes"] for r in doc["times"]["rows"]],
        "restoration": [num(r["restoration"]["avg_minutes"]) for r in doc["times"]["rows"]],
        "restoration_commitment": [r["restoration"]["commitment_minutes"] for r in doc["times"]["rows"]],
        "labels": {
            "count": _("工单量"),
            "rate": _("按时率（%）"),
            "arrival": _("平均到达时长（分钟）"),
            "restoration": _("平均修复时长（分钟）"),
            "commitment": _("承诺时限（分钟）"),
        },
    }


# ---------------------------------------------------------------- Excel


def filename(doc: dict) -> str:
    return f"service-report-{doc['unit']['code']}-{doc['period']['from']:%Y%m%d}-{doc['period']['to']:%Y%m%d}"


def _pct(value: Decimal | None):
    # Rates are stored as fractions with a percent format, so Excel can chart and sum them.
    return None if value is None else value / 100


def report_xlsx(doc: dict) -> bytes:
    """Every table of the report, one sheet each: a title, the filter line, the header row, the rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    as_of_label = _("统计时点")
    head = (
        f"{doc['unit']['name']} {doc['period']['from']:%Y-%m-%d} — {doc['period']['to']:%Y-%m-%d}"
        f"（{as_of_label} {doc['as_of'].astimezone(CHINA):%Y-%m-%d %H:%M}）"
    )
    wb = Workbook()
    first = [True]

    def sheet(title: str, header: list[str], rows: list[list], percent_cols: tuple[int, ...] = ()):
        ws = wb.active if first[0] else wb.create_sheet()
        first[0] = False
        ws.title = title[:31]
        ws.append([title])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([head])
        ws.append([])
        ws.append(header)
        for cell in ws[4]:
            cell.font = bold
        for r in rows:
            ws.append([as_text_cell(v) for v in r])
            for c in percent_cols:
                ws.cell(row=ws.max_row, column=c + 1).number_format = "0.00%"
        ws.freeze_panes = "A5"
        return ws

    v = doc["volumes"]
    type_labels = [t["label"] for t in v["by_type"]]
    type_keys = [t["type"] for t in v["by_type"]]
    sheet(
        _("按类型"),
        [_("工单类型"), _("工单量"), _("未办结"), _("已归档"), _("已合并")],
        [[t["label"], t["count"], t["open"], t["closed"], t["merged"]] for t in v["by_type"]]
        + [[_("合计"), v["total"], "", "", ""]],
    )
    sheet(
        _("按子类"),
        [_("工单类型"), _("子类"), _("工单量")],
        [[s["type_label"], s["label"], s["count"]] for s in v["by_sub_type"]],
    )
    sheet(
        _("按渠道"),
        [_("受理渠道"), _("工单量"), *type_labels],
        [[c["label"], c["count"], *(c["by_type"][k] for k in type_keys)] for c in v["by_channel"]],
    )
    sheet(
        _("按单位"),
        [_("单位编号"), _("单位"), _("工单量"), *type_labels, _("在册户数"), _("属实投诉"), _("每万户投诉")],
        [
            [
                u["code"],
                u["name"],
                u["count"],
                *(u["by_type"][k] for k in type_keys),
                u["accounts"],
                u["substantiated_complaints"],
                u["complaints_per_10k"],
            ]
            for u in v["by_unit"]
        ],
    )
    sheet(
        _("月度趋势"),
        [_("月份"), _("工单量"), *type_labels],
        [[m["month"], m["count"], *(m["by_type"][k] for k in type_keys)] for m in v["monthly"]],
    )
    ot = doc["on_time"]
    sheet(
        _("时限按时率"),
        [
            _("时限"),
            _("工单类型"),
            _("子类"),
            _("按时"),
            _("超时"),
            _("其中超时办结"),
            _("其中逾期未办"),
            _("未到期"),
            _("临时计算"),
            _("按时率"),
        ],
        [
            [
                r["deadline_label"],
                r["type_label"],
                r["sub_type_label"],
                r["on_time"],
                r["late"],
                r["late_met"],
                r["overdue"],
                r["pending"],
                r["provisional"],
                _pct(r["rate"]),
            ]
            for r in [*ot["rows"], *ot["totals"], ot["overall"]]
        ],
        percent_cols=(9,),
    )
    c = doc["complaints"]
    sheet(
        _("每万户投诉"),
        [_("投诉分类"), _("投诉量"), _("属实"), _("每万户属实投诉")],
        [[s["label"], s["complaints"], s["substantiated"], s["per_10k"]] for s in c["by_sub_type"]]
        + [
            [_("合计"), c["complaints"], c["substantiated"], c["per_10k"]],
            [_("在册户数"), c["accounts"]],
            [_("每万户投诉（全部）"), c["all_per_10k"]],
            [_("未认定"), c["undetermined"]],
        ],
    )
    s = doc["satisfaction"]
    sheet(
        _("回访满意率"),
        [_("类别"), _("满意"), _("基本满意"), _("不满意"), _("已评价"), _("满意率")],
        [
            [x["label"], x["satisfied"], x["basic"], x["unsatisfied"], x["rated"], _pct(x["rate"])]
            for x in [
                *s["by_type"],
                {"label": _("回访合计"), **s["callbacks"]},
                {"label": _("网上国网客户评价"), **s["portal"]},
            ]
        ],
        percent_cols=(5,),
    )
    sheet(
        _("到达与修复时长"),
        [
            _("区域"),
            _("到达工单"),
            _("平均到达（分钟）"),
            _("到达承诺（分钟）"),
            _("到达超时工单"),
            _("修复工单"),
            _("平均修复（分钟）"),
            _("修复承诺（分钟）"),
            _("修复超时工单"),
        ],
        [
            [
                r["label"],
                r["arrival"]["count"],
                r["arrival"]["avg_minutes"],
                r["arrival"]["commitment_minutes"],
                r["arrival"]["late_orders"],
                r["restoration"]["count"],
                r["restoration"]["avg_minutes"],
                r["restoration"]["commitment_minutes"],
                r["restoration"]["late_orders"],
            ]
            for r in doc["times"]["rows"]
        ],
    )
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
