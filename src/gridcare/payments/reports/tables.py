"""The collection reports (payments.reports.selectors) as tables: filters read from a query string or the command
line, rows with a totals line, chart data — shared by the report pages, their Excel export and the
`payments_report` command. Scoped by `reports` to the user's units under stats.view, exactly as the API."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from gridcare.core.validators import date_range_message
from gridcare.payments.choices import PaymentChannel

from . import selectors as reports
from .excel import COUNT, MONEY, PERCENT, Column, Sheet, report_workbook

ZERO = Decimal("0.00")
PERIOD_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
REPORTS = ("collection-rate", "arrears-ageing", "channel-mix")


def _bucket_labels() -> dict[str, str]:
    return {"0-30": _("0–30天"), "31-90": _("31–90天"), "91-365": _("91–365天"), "365+": _("365天以上")}


@dataclass
class Filters:
    """The report filters read from a query string, with the errors per field (Chinese, for the page)."""

    period: str = ""
    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


def _parse_date(raw: str, name: str, label: str, errors: dict[str, str]) -> date | None:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("%(label)s不是有效日期（YYYY-MM-DD）：%(v)s") % {"label": label, "v": raw[:20]}
        return None
    out_of_range = date_range_message(value)
    if out_of_range:
        errors[name] = f"{label}：{out_of_range}"
        return None
    return value


def parse_filters(params, today: date, *, default_period: str = "") -> Filters:
    """Filters with defaults: `default_period`'s bills (callers pass `reports.last_due_period`: the last month
    whose due date has passed; without it, the month before last), ageing as of today, payments of this month
    so far."""
    if not default_period:
        before_last = (today.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
        default_period = f"{before_last:%Y-%m}"
    raw = {
        "period": (params.get("period") or default_period).strip(),
        "as_of": (params.get("as_of") or today.isoformat()).strip(),
        "date_from": (params.get("date_from") or today.replace(day=1).isoformat()).strip(),
        "date_to": (params.get("date_to") or today.isoformat()).strip(),
    }
    f = Filters(raw=raw)
    if PERIOD_RE.fullmatch(raw["period"]):
        f.period = raw["period"]
    else:
        f.errors["period"] = _("账期应为 YYYY-MM（月份 01–12）：%(v)s") % {"v": raw["period"][:20]}
    f.as_of = _parse_date(raw["as_of"], "as_of", _("统计日期"), f.errors)
    f.date_from = _parse_date(raw["date_from"], "date_from", _("开始日期"), f.errors)
    f.date_to = _parse_date(raw["date_to"], "date_to", _("结束日期"), f.errors)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.errors["date_to"] = _("开始日期 %(a)s 晚于结束日期 %(b)s") % {"a": f.date_from, "b": f.date_to}
    return f


def period_note(user, period: str, today: date) -> str:
    """Which billing month the collection rate shows and whether its bills are past their due date, e.g.
    "显示 2026-10 电费（已过缴费期限）" (a month not yet due shows a low rate that is still rising)."""
    last_due = reports.period_last_due(user=user, period=period)
    if last_due is None:
        return _("显示 %(p)s 电费（该月没有账单）") % {"p": period}
    if last_due < today:
        return _("显示 %(p)s 电费（已过缴费期限）") % {"p": period}
    return _("显示 %(p)s 电费（缴费期限 %(d)s 未到，回收率仍会上升）") % {
        "p": period,
        "d": last_due.isoformat(),
    }


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return ZERO
    return (part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- the three reports as tables


@dataclass(frozen=True)
class Table:
    title: str
    filter_text: str
    columns: list[Column]
    rows: list[list]
    totals: list
    chart: dict
    detail: "Table | None" = None  # a second table under the first (page) / a second sheet (Excel)

    @property
    def cells(self) -> list[list[dict]]:
        """The rows as {"v", "kind"} cells: the page formats money (|yuan), rates and counts by kind."""
        return [self._cells(row) for row in self.rows]

    @property
    def total_cells(self) -> list[dict]:
        return self._cells(self.totals)

    def _cells(self, row: list) -> list[dict]:
        return [{"v": v, "kind": c.kind} for v, c in zip(row, self.columns, strict=True)]


def collection_table(user, f: Filters) -> Table:
    rows = reports.collection_rate(user=user, period=f.period)
    total = reports.CollectionRow(
        0,
        _("合计"),
        sum((r.billed for r in rows), ZERO),
        sum((r.collected for r in rows), ZERO),
        sum(r.bills for r in rows),
    )
    return Table(
        title=_("电费回收率"),
        filter_text=_("账期：%(p)s") % {"p": f.period},
        columns=[
            Column(_("供电单位"), width=20),
            Column(_("账单数"), COUNT),
            Column(_("应收电费(元)"), MONEY),
            Column(_("已收电费(元)"), MONEY),
            Column(_("回收率"), PERCENT),
        ],
        rows=[[r.unit_name, r.bills, r.billed, r.collected, r.rate] for r in rows],
        totals=[_("合计"), total.bills, total.billed, total.collected, total.rate],
        chart={
            "names": [r.unit_name for r in rows],
            "rates": [float(r.rate) for r in rows],
            "billed": [float(r.billed) for r in rows],
            "collected": [float(r.collected) for r in rows],
            "labels": [_("应收电费"), _("已收电费"), _("回收率"), _("元")],
        },
    )


def ageing_table(user, f: Filters) -> Table:
    rows = reports.arrears_ageing(user=user, as_of=f.as_of)
    labels = _bucket_labels()
    total_amount = sum((r["amount"] for r in rows), ZERO)
    return Table(
        title=_("欠费账龄"),
        filter_text=_("统计日期：%(d)s") % {"d": f.as_of.isoformat()},
        columns=[
            Column(_("账龄"), width=16),
            Column(_("欠费账单数"), COUNT),
            Column(_("欠费本金(元)"), MONEY),
            Column(_("占比"), PERCENT),
        ],
        rows=[[labels[r["bucket"]], r["bills"], r["amount"], _pct(r["amount"], total_amount)] for r in rows],
        totals=[
            _("合计"),
            sum(r["bills"] for r in rows),
            total_amount,
            Decimal("100.00") if total_amount else ZERO,
        ],
        chart={
            "names": [labels[r["bucket"]] for r in rows],
            "amounts": [float(r["amount"]) for r in rows],
            "labels": [_("欠费本金"), _("元")],
        },
    )


def channel_table(user, f: Filters) -> Table:
    rows = reports.channel_mix(user=user, date_from=f.date_from, date_to=f.date_to)
    labels = dict(PaymentChannel.choices)
    total_amount = sum((r["amount"] for r in rows), ZERO)
    names = [str(labels.get(r["channel"], r["channel"])) for r in rows]
    return Table(
        title=_("缴费渠道构成"),
        filter_text=_("缴费日期：%(a)s 至 %(b)s")
        % {"a": f.date_from.isoformat(), "b": f.date_to.isoformat()},
        columns=[
            Column(_("缴费渠道"), width=22),
            Column(_("笔数"), COUNT),
            Column(_("金额(元)"), MONEY),
            Column(_("金额占比"), PERCENT),
        ],
        rows=[
            [n, r["payments"], r["amount"], _pct(r["amount"], total_amount)]
            for n, r in zip(names, rows, strict=True)
        ],
        totals=[
            _("合计"),
            sum(r["payments"] for r in rows),
            total_amount,
            Decimal("100.00") if total_amount else ZERO,
        ],
        chart={"items": [{"name": n, "value": float(r["amount"])} for n, r in zip(names, rows, strict=True)]},
        detail=agent_table(user, f, labels),
    )


def agent_table(user, f: Filters, labels: dict) -> Table | None:
    """代收机构明细: the collection agents' part of the channel mix, per agent (None when they took nothing)."""
    rows = reports.agent_mix(user=user, date_from=f.date_from, date_to=f.date_to)
    if not rows:
        return None
    total = sum((r["amount"] for r in rows), ZERO)
    return Table(
        title=_("代收机构明细"),
        filter_text=_("缴费日期：%(a)s 至 %(b)s")
        % {"a": f.date_from.isoformat(), "b": f.date_to.isoformat()},
        columns=[
            Column(_("缴费渠道"), width=12),
            Column(_("机构编号"), width=12),
            Column(_("机构名称"), width=24),
            Column(_("笔数"), COUNT),
            Column(_("金额(元)"), MONEY),
        ],
        rows=[
            [str(labels.get(r["channel"], r["channel"])), r["agent"], r["name"], r["payments"], r["amount"]]
            for r in rows
        ],
        totals=[_("合计"), "", "", sum(r["payments"] for r in rows), total],
        chart={},
    )


# Which filter fields each report needs, and how it is built.
BUILDERS = {
    "collection-rate": (("period",), collection_table),
    "arrears-ageing": (("as_of",), ageing_table),
    "channel-mix": (("date_from", "date_to"), channel_table),
}


def filter_errors(f: Filters, report: str) -> list[str]:
    """The messages of the filters `report` needs (the others do not matter to it)."""
    return [f.errors[name] for name in BUILDERS[report][0] if name in f.errors]


def build(user, f: Filters, report: str) -> Table:
    return BUILDERS[report][1](user, f)


def workbook(t: Table) -> bytes:
    first, *more = (
        Sheet(s.title, _("筛选条件：%(f)s") % {"f": s.filter_text}, s.columns, s.rows, s.totals)
        for s in (t, t.detail)
        if s is not None
    )
    return report_workbook(
        title=first.title,
        filter_text=first.filter_text,
        columns=first.columns,
        rows=first.rows,
        totals=first.totals,
        more=tuple(more),
    )
