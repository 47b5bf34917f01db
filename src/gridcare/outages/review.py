"""The monthly review (月度例会) of a unit: what seed 000 §2.5 asks a bureau to look at every month.

`monthly_review(user, unit_id, month, today)` gathers, for the unit with its descendants:
- the month's and the year-to-date indices (low-voltage basis, with and without MEDs) against the year's targets,
  with the traffic lights of the report page (as of the month's last day, or today within the current month);
- the worst feeders and transformer areas of the month by customer-hours of sustained interruptions (top 10);
- the planned-outage budget (预安排停电指标) of the year: budget, used, remaining;
- the frequent-outage customers as of the month's end and the open actions (frequent-outage cases, trip
  remediation actions).
`review_xlsx(doc)` and `review_pdf(doc)` render the same document as an Excel workbook (openpyxl) and a PDF
(WeasyPrint, no network fetches)."""

import calendar
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Sum
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from gridcare.org.models import SupplyUnit

from . import frequent, indices, selectors, trips
from .choices import OPEN_ACTION, AreaGroup
from .models import FrequentOutageCase, Interruption, TripAction

CN = ZoneInfo("Asia/Shanghai")
TOP = 10


def _worst(unit_ids: list[int], first: date, last: date, momentary_s: int) -> dict[str, list[dict]]:
    """Feeders and areas by customer-hours of the month's sustained interruptions (ended ones), worst first."""
    base = Interruption.objects.filter(
        unit_id__in=unit_ids, day__gte=first, day__lte=last, end__isnull=False, duration_s__gt=momentary_s
    )
    out: dict[str, list[dict]] = {}
    for key, fields in (
        ("feeders", ("area__feeder__code", "area__feeder__name")),
        ("areas", ("area__transformer_area__code", "area__area_name")),
    ):
        rows = (
            base.values(*fields)
            .annotate(cs=Sum(F("customers") * F("duration_s")), customers=Sum("customers"))
            .order_by("-cs", fields[0])[:TOP]
        )
        out[key] = [
            {
                "code": r[fields[0]],
                "name": r[fields[1]],
                "customers": r["customers"],
                "customer_hours": round((r["cs"] or 0) / 3600, 2),
            }
            for r in rows
        ]
    return out


def monthly_review(*, user, unit_id: int, month: date, today: date) -> dict[str, Any]:
    unit = indices.visible_unit(user, unit_id)
    ids = indices.subtree_ids(unit)
    first = month.replace(day=1)
    last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
    upto = min(last, today)
    as_of = datetime.combine(upto + timedelta(days=1), time(), CN)
    month_idx = indices.unit_indices(unit, start=first, end=upto, as_of=as_of, cemi=False)
    ytd_idx = indices.unit_indices(unit, start=date(first.year, 1, 1), end=upto, as_of=as_of, cemi=False)
    trend = indices.reliability_monthly(user=user, unit_id=unit.pk, year=first.year, today=upto, as_of=as_of)
    groups = dict(AreaGroup.choices)
    targets = [dict(v, group=k, group_label=str(groups.get(k, k))) for k, v in trend["targets"].items()]
    budgets = selectors.budgets_applying(unit=unit, year=first.year)
    names = dict(SupplyUnit.objects.filter(pk__in=[b["unit_id"] for b in budgets]).values_list("pk", "name"))
    freq = frequent.frequent_outage_list(user, unit_id=unit.pk, today=upto)
    cases_open = FrequentOutageCase.objects.filter(unit_id__in=ids, status__in=OPEN_ACTION).count()
    actions = list(
        TripAction.objects.filter(unit_id__in=ids, status__in=OPEN_ACTION)
        .select_related("feeder")
        .order_by("created_at", "pk")[:50]
    )
    ranking = trips.trip_ranking(user, unit_id=unit.pk, today=upto)[:TOP]
    return {
        "unit": {"id": unit.pk, "code": unit.code, "name": unit.name},
        "month": first,
        "upto": upto,
        "month_indices": month_idx,
        "ytd_indices": ytd_idx,
        "projected_saidi_hours": trend["projected_saidi_hours"],
        "targets": targets,
        "worst": _worst(ids, first, upto, int(indices.momentary_max_minutes() * 60)),
        "budgets": [dict(b, unit_name=names.get(b["unit_id"], "")) for b in budgets],
        "frequent": freq[:50],
        "frequent_count": len(freq),
        "frequent_cases_open": cases_open,
        "trip_ranking": ranking,
        "trip_actions_open": [
            {
                "feeder": a.feeder.code,
                "feeder_name": a.feeder.name,
                "action": a.action,
                "status": a.get_status_display(),
            }
            for a in actions
        ],
    }


def filename(doc: dict) -> str:
    return f"monthly-review-{doc['unit']['code']}-{doc['month']:%Y-%m}"


def _fmt(v, digits: int = 4):
    return "—" if v is None else round(v, digits)


def review_xlsx(doc: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _("指标")
    bold = Font(bold=True)
    ws.append([_("月度例会") + f" {doc['unit']['name']} {doc['month']:%Y-%m}"])
    ws["A1"].font = bold
    ws.append([])
    ws.append([_("指标"), _("本月"), _("本月（剔除重大事件日）"), _("年累计"), _("年累计（剔除重大事件日）")])
    m, y = doc["month_indices"], doc["ytd_indices"]
    for key, label in (
        ("saifi", "SAIFI"),
        ("saidi_hours", _("SAIDI（小时/户）")),
        ("caidi_hours", _("CAIDI（小时）")),
        ("asai_percent", _("RS-1（%）")),
        ("rs2_percent", _("RS-2（%）")),
        ("rs3_percent", _("RS-3（%）")),
        ("maifi", "MAIFI"),
    ):
        ws.append(
            [
                label,
                _fmt(m["all"][key], 6),
                _fmt(m["excluding_med"][key], 6),
                _fmt(y["all"][key], 6),
                _fmt(y["excluding_med"][key], 6),
            ]
        )
    ws.append([_("预计全年 SAIDI（小时/户）"), "", "", _fmt(doc["projected_saidi_hours"], 4)])
    ws.append([_("重大事件日"), ", ".join(y["major_event_days"]) or "—"])
    t = wb.create_sheet(_("目标"))
    t.append(
        [
            _("区域"),
            _("SAIDI 目标上限"),
            _("RS-1 目标下限"),
            _("年累计 SAIDI"),
            _("预计全年 SAIDI"),
            _("状态"),
        ]
    )
    for g in doc["targets"]:
        t.append(
            [
                g["group_label"],
                g["target"].get("saidi_hours_max") or "—",
                g["target"].get("rs1_percent_min") or "—",
                _fmt(g["ytd"]["saidi_hours"]),
                _fmt(g["projected"]["saidi_hours"]),
                g["light"] or "—",
            ]
        )
    for key, title in (("feeders", _("停电最多的线路")), ("areas", _("停电最多的台区"))):
        s = wb.create_sheet(title)
        s.append([_("编号"), _("名称"), _("停电户次"), _("停电时户数")])
        for r in doc["worst"][key]:
            s.append([r["code"], r["name"], r["customers"], r["customer_hours"]])
    b = wb.create_sheet(_("预安排停电指标"))
    b.append([_("单位"), _("年度指标"), _("已用"), _("剩余")])
    for r in doc["budgets"]:
        b.append([r["unit_name"], r["budget"], r["used"], r["remaining"]])
    f = wb.create_sheet(_("频繁停电"))
    f.append([_("户号"), _("台区"), _("停电次数"), _("首次"), _("末次"), _("整改措施"), _("状态")])
    for r in doc["frequent"]:
        case = r["case"] or {}
        f.append(
            [
                r["account_number"],
                r["area_name"],
                r["count"],
                r["first_day"],
                r["last_day"],
                case.get("action", ""),
                case.get("status", ""),
            ]
        )
    a = wb.create_sheet(_("未完成措施"))
    a.append([_("线路"), _("治理措施"), _("状态")])
    for r in doc["trip_actions_open"]:
        a.append([f"{r['feeder']} {r['feeder_name']}", r["action"], r["status"]])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def review_pdf(doc: dict) -> bytes:
    from weasyprint import HTML

    from gridcare.billing.ebill import refusing_url_fetcher

    html = render_to_string("outages/review_pdf.html", {"doc": doc})
    return HTML(string=html, base_url=None, url_fetcher=refusing_url_fetcher()).write_pdf()
