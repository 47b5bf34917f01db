"""Usage analysis (用电分析): an account's monthly kWh over two years, TOU split, change on the year before.

Read-only, from the account's issued bills (one per billing month; a cancelled bill's correction stands in for
it). The two years end with the latest billed month. Each month is compared with the same month a year
earlier, which may fall before the two years shown, so up to 36 months are read (one query).

Year on year (同比) = (kWh − kWh of the same month last year) ÷ kWh of that month × 100, rounded half-up to
one decimal; none when last year's month has no bill or used 0 kWh (no percentage of nothing).
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from .choices import BillStatus
from .models import Bill
from .rating import TOU_PERIODS, tou_label

MONTHS = 24
TOU_FIELDS = {p: f"kwh_{p}" for p in TOU_PERIODS}
ONE_DECIMAL = Decimal("0.1")


def yoy_percent(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """Change on the same month last year in %, half-up to 0.1; None without a comparable month."""
    if current is None or previous is None or previous == 0:
        return None
    return ((current - previous) / previous * 100).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def add_months(d: date, n: int) -> date:
    """The first of the month `n` months after (before, for n < 0) the month of `d`."""
    index = d.year * 12 + (d.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class UsageMonth:
    period: str  # "YYYY-MM"
    kwh: Decimal | None  # None: no issued bill for the month
    tou: dict[str, Decimal] | None  # TOU split of a TOU bill
    estimated: bool
    last_year_kwh: Decimal | None
    yoy: Decimal | None


def monthly_usage(account, *, months: int = MONTHS) -> dict[str, Any]:
    """The last `months` billing months up to the latest issued bill, oldest first, with totals of the latest
    12 months against the 12 before them, and the ECharts data of the page's chart (one query)."""
    rows = list(
        Bill.objects.filter(account_id=account.pk, status=BillStatus.ISSUED)
        .only("period_start", "kwh_total", "estimated", *TOU_FIELDS.values())
        .order_by("-period_start", "-id")[: months + 12]
    )
    if not rows:
        return {"months": [], "has_tou": False, "chart": None, "latest": None}
    latest = rows[0].period_start.replace(day=1)
    earliest = add_months(latest, -(months + 11))
    by_month = {}
    for b in rows:
        start = b.period_start.replace(day=1)
        if start >= earliest:
            by_month.setdefault(start, b)  # the newest row of a month wins (one issued bill per month anyway)

    out: list[UsageMonth] = []
    for i in range(months - 1, -1, -1):
        start = add_months(latest, -i)
        bill = by_month.get(start)
        before = by_month.get(add_months(start, -12))
        kwh = bill.kwh_total if bill is not None else None
        last = before.kwh_total if before is not None else None
        tou = None
        if bill is not None and any(getattr(bill, f) is not None for f in TOU_FIELDS.values()):
            tou = {p: getattr(bill, f) for p, f in TOU_FIELDS.items() if getattr(bill, f) is not None}
        out.append(
            UsageMonth(
                period=f"{start:%Y-%m}",
                kwh=kwh,
                tou=tou,
                estimated=bool(bill is not None and bill.estimated),
                last_year_kwh=last,
                yoy=yoy_percent(kwh, last),
            )
        )
    recent = [m.kwh for m in out[-12:] if m.kwh is not None]
    earlier = [m.kwh for m in out[:-12] if m.kwh is not None]
    recent_total = sum(recent, Decimal(0)) if recent else None
    earlier_total = sum(earlier, Decimal(0)) if earlier else None
    return {
        "months": out,
        "latest": out[-1].period,
        "has_tou": any(m.tou for m in out),
        "recent_total": recent_total,
        "earlier_total": earlier_total,
        # Only over two full years: a part-year total against a full year says nothing.
        "total_yoy": yoy_percent(recent_total, earlier_total)
        if len(recent) == 12 and len(earlier) == 12
        else None,
        "chart": usage_chart(out),
    }


def usage_chart(months: list[UsageMonth]) -> dict[str, Any]:
    """ECharts data: stacked TOU bars (总电量 for months without a split), last year's kWh and the % change."""

    def num(v):
        return None if v is None else float(v)

    bars = [
        {"key": p, "name": tou_label(p), "data": [num(m.tou.get(p)) if m.tou else None for m in months]}
        for p in TOU_PERIODS
    ]
    bars.append(
        {"key": "total", "name": _("总电量"), "data": [None if m.tou else num(m.kwh) for m in months]}
    )
    return {
        "months": [m.period for m in months],
        "bars": [s for s in bars if any(v is not None for v in s["data"])],
        "last_year": {"name": _("去年同期"), "data": [num(m.last_year_kwh) for m in months]},
        "yoy": {"name": _("同比(%)"), "data": [num(m.yoy) for m in months]},
        "unit": "kWh",
    }
