"""Voltage quality (台区电压分析, issue 14 §5): limits by GB/T 12325 and the compliance rate (电压合格率).

The rule itself is pure and Decimal only (float gives 220 × 1.07 = 235.40000000000003):
- `limits(nominal) -> (low, high)`: `nominal × (1 + pct / 100)` for the band of the nominal voltage — ≤ 220 V:
  −10 % / +7 %; above 220 V up to 20 kV (380 V, 10 kV, 20 kV): ±7 %; above 20 kV (35 kV and up): −3 % / +7 %.
  Configurable with `settings.GRIDCARE["OUTAGES"]["VOLTAGE_LIMITS"]`: a list of `{"max": volts or None,
  "low": pct, "high": pct}` bands in ascending order; a nominal falls in the first band whose `max` ≥ it.
- `within(nominal, v)`: `low ≤ v ≤ high` (bounds inclusive).
- `rate(hours_ok, hours_read)`: hours within limits ÷ hours with a reading × 100 (None without readings). A
  per-meter area counts each (meter, hour) as one hour.

Stored data: `voltage_monthly_refresh` recomputes `VoltageMonthly` for some months from `VoltageReading` with one
grouped query per month (the bounds of each distinct nominal are computed here in Decimal and handed to SQL as a
CASE); `voltage_monthly_rates` and `voltage_below_target` read it, scoped to the user's units. A month is a China
(Asia/Shanghai) calendar month of the reading's hour. The voltage complaints of an area are None ("—"): the 95598
work orders that would hold them do not exist yet.
"""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

CHINA = ZoneInfo("Asia/Shanghai")
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")  # readings are stored with one decimal place

DEFAULT_LIMITS: tuple[dict, ...] = (
    {"max": "220", "low": "-10", "high": "7"},
    {"max": "20000", "low": "-7", "high": "7"},
    {"max": None, "low": "-3", "high": "7"},
)
DEFAULT_TARGET = {"urban": 96, "rural": 95}
URBAN_TYPES = ("centre", "urban")
RURAL_TYPES = ("rural", "remote")


def _outages_conf() -> dict:
    return getattr(settings, "GRIDCARE", {}).get("OUTAGES", {}) or {}


def _bands() -> list[tuple[Decimal | None, Decimal, Decimal]]:
    raw = _outages_conf().get("VOLTAGE_LIMITS") or DEFAULT_LIMITS
    return [
        (
            None if b.get("max") is None else Decimal(str(b["max"])),
            Decimal(str(b["low"])),
            Decimal(str(b["high"])),
        )
        for b in raw
    ]


def limits(nominal: Decimal) -> tuple[Decimal, Decimal]:
    """The (low, high) bounds in volts for a nominal voltage, exact in Decimal."""
    nominal = Decimal(nominal)
    if nominal <= 0:
        raise ValueError("nominal voltage must be positive")
    for top, low, high in _bands():
        if top is None or nominal <= top:
            return nominal * (1 + low / HUNDRED), nominal * (1 + high / HUNDRED)
    raise ValueError(f"no voltage band covers {nominal} V")  # a configured list without an open last band


def within(nominal: Decimal, v: Decimal) -> bool:
    """True when the reading is within the limits of its nominal voltage (bounds inclusive)."""
    low, high = limits(nominal)
    return low <= Decimal(v) <= high


def rate(hours_ok: int, hours_read: int) -> Decimal | None:
    """The compliance rate in percent (unrounded Decimal); None when no hour was read."""
    if not hours_read:
        return None
    return Decimal(hours_ok) * HUNDRED / Decimal(hours_read)


def stored_bounds(nominal: Decimal) -> tuple[Decimal, Decimal]:
    """The bounds on the one-decimal grid readings are stored on: low rounded up, high rounded down, so that for
    every stored reading `low' ≤ v ≤ high'` exactly when `low ≤ v ≤ high` (the database never sees a bound with
    more decimals than the column, which SQLite would round)."""
    low, high = limits(nominal)
    return low.quantize(TENTH, rounding=ROUND_CEILING), high.quantize(TENTH, rounding=ROUND_FLOOR)


def targets() -> dict[str, Decimal]:
    raw = {**DEFAULT_TARGET, **(_outages_conf().get("VOLTAGE_TARGET") or {})}
    return {k: Decimal(str(v)) for k, v in raw.items()}


def target_for(area_type: str) -> Decimal:
    t = targets()
    return t["urban"] if area_type in URBAN_TYPES else t["rural"]


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The aware [start, end) instants of a China calendar month."""
    m = month_start(month)
    return (
        datetime(m.year, m.month, 1, tzinfo=CHINA),
        datetime(next_month(m).year, next_month(m).month, 1, tzinfo=CHINA),
    )


# ------------------------------------------------------------------------------------------- stored data


def voltage_monthly_refresh(*, months: Iterable[date], area_ids: Iterable[int] | None = None) -> int:
    """Recompute `VoltageMonthly` (hours read, hours OK) for these months (and areas, default all) from the
    readings: per month one grouped query with a CASE on the bounds of each distinct nominal voltage; the rows
    are replaced (delete and bulk insert) in one transaction. Returns the number of rows written."""
    from django.db import transaction
    from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When

    from .models import VoltageMonthly, VoltageReading

    area_list = None if area_ids is None else sorted(set(area_ids))
    rows: list[VoltageMonthly] = []
    month_list = sorted({month_start(m) for m in months})
    for m in month_list:
        start, end = month_bounds(m)
        qs = VoltageReading.objects.filter(hour__gte=start, hour__lt=end)
        if area_list is not None:
            qs = qs.filter(transformer_area_id__in=area_list)
        nominals = list(qs.order_by().values_list("nominal_v", flat=True).distinct())
        if not nominals:
            continue
        whens = []
        for n in nominals:
            low, high = stored_bounds(n)
            whens.append(When(Q(nominal_v=n, voltage_v__gte=low, voltage_v__lte=high), then=Value(1)))
        ok = Case(*whens, default=Value(0), output_field=IntegerField())
        grouped = (
            qs.order_by()
            .values("transformer_area_id", "transformer_area__unit_id")
            .annotate(read=Count("id"), ok=Sum(ok))
        )
        rows.extend(
            VoltageMonthly(
                transformer_area_id=g["transformer_area_id"],
                unit_id=g["transformer_area__unit_id"],
                month=m,
                hours_read=g["read"],
                hours_ok=g["ok"] or 0,
            )
            for g in grouped
        )
    with transaction.atomic():
        stale = VoltageMonthly.objects.filter(month__in=month_list)
        if area_list is not None:
            stale = stale.filter(transformer_area_id__in=area_list)
        stale.delete()
        VoltageMonthly.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _scoped_monthly(user, unit_id: int, month: date):
    from django.http import Http404

    from gridcare.core.permissions import Perm, has_perm
    from gridcare.core.scoping import visible_unit_ids
    from gridcare.org.models import SupplyUnit

    from .models import VoltageMonthly

    if not has_perm(user, Perm.RELIABILITY_VIEW) or unit_id not in visible_unit_ids(user):
        raise Http404
    unit = SupplyUnit.objects.only("path").get(pk=unit_id)
    return VoltageMonthly.objects.filter(unit__path__startswith=unit.path, month=month_start(month))


def voltage_monthly_rates(user, *, unit_id: int, month: date) -> list[dict]:
    """Every area of the unit (with its descendants) that has readings in the month: hours read, hours OK, the
    rate (%), its target and whether it is below; ordered by rate ascending, then area code."""
    qs = _scoped_monthly(user, unit_id, month).select_related("transformer_area", "unit")
    out = []
    for r in qs:
        area = r.transformer_area
        target = target_for(area.area_type)
        value = rate(r.hours_ok, r.hours_read)
        out.append(
            {
                "area_id": area.pk,
                "area_code": area.code,
                "area_name": area.name,
                "area_type": area.area_type,
                "unit_id": r.unit_id,
                "unit_name": r.unit.name,
                "month": r.month,
                "hours_read": r.hours_read,
                "hours_ok": r.hours_ok,
                "rate_percent": value,
                "target_percent": target,
                "below_target": value is not None and value < target,
                # 95598 voltage complaints per area: no work orders yet, shown as "—".
                "voltage_complaints": None,
            }
        )
    out.sort(key=lambda r: (r["rate_percent"] if r["rate_percent"] is not None else HUNDRED, r["area_code"]))
    return out


def voltage_below_target(user, *, unit_id: int, month: date) -> list[dict]:
    """The areas whose compliance rate in the month is below target (urban 96 %: centre + urban areas; rural 95
    %: rural + remote; `GRIDCARE["OUTAGES"]["VOLTAGE_TARGET"]`), worst first; `voltage_complaints` None."""
    return [r for r in voltage_monthly_rates(user, unit_id=unit_id, month=month) if r["below_target"]]
