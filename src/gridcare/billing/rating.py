"""The rating engine: tariff parameters + usage → bill lines. Pure functions over Decimal, no ORM.

A quote and a billing run call the same `rate()`; the run resolves versions in bulk and passes
`VersionSpan`s. Conventions (SPEC §4, issue C2):

- Money: every line is rounded half-up to 0.01 yuan on its own; the total is the sum of the rounded
  lines (never the rounding of an unrounded sum).
- Days: a period is inclusive at both ends (2025-12-17..2026-01-15 is 30 days: 15 in December and 15
  in January). Tariff versions are inclusive too (`valid_to` is the last day, None = open).
- Splitting: a bill is cut into parts where the tariff version changes and, for annual tiers, at
  1 January. Each kWh quantity (total, or each TOU period on its own) is shared by calendar days:
  every part but the last gets quantity × days / total_days rounded half-up to 0.01 kWh, the last
  part gets the remainder, so the parts always sum exactly to the metered kWh.
- Annual tiers: the first part starts from `ytd_kwh_before`; a part in a new year starts from 0;
  later parts in the same year start where the earlier ones ended. Monthly tiers: the thresholds
  apply to this bill's kWh alone (ytd is ignored).
- 先峰谷后阶梯: energy is charged at the TOU prices, and the tier surcharge is added on the kWh (total
  of all periods) that fall into tier 2/3.
- Basic charge (两部制) is per month; a bill is one billing month, and when it is cut into parts each
  part carries its days' share of the month's basic charge.
- Move-in / move-out (`month_days`): a bill for fewer days than its billing month (the account opened or
  closed inside it) is rated over its own days; the month's basic charge is then shared by
  days / month_days, and monthly tier thresholds are scaled by days / month_days (rounded half-up to
  0.01 kWh). Annual tiers are not scaled: the year-to-date usage carries them.
- Power-factor adjustment 力调电费 = (basic + energy lines of the part) × table percent; government
  funds are not adjusted. The measured PF is rounded half-up to 0.01 before the look-up.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.utils import translation
from django.utils.translation import gettext as _

from .pf_table import PF_TABLES, adjustment_percent

CENT = Decimal("0.01")
KWH_STEP = Decimal("0.01")
PF_STEP = Decimal("0.01")
ZERO = Decimal(0)
TOU_PERIODS = ("sharp", "peak", "flat", "valley")
TIER_BASES = ("annual", "monthly")
PRICE_PLACES = 4  # yuan per kWh / kVA·month / kW·month: at most 4 decimals (0.5383)
KWH_PLACES = 2  # tier bounds in kWh
DAY_MINUTES = 24 * 60


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def tou_label(period: str) -> str:
    return {"sharp": _("尖峰"), "peak": _("高峰"), "flat": _("平段"), "valley": _("低谷")}[period]


class RatingError(ValueError):
    """Bad input or parameters: {field: message}, shaped like a Django ValidationError's dict."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


# ---------------------------------------------------------------- tariff parameters


@dataclass(frozen=True)
class Fund:
    """A per-kWh government fund or surcharge shown as its own bill line."""

    code: str
    label: str
    price: Decimal


@dataclass(frozen=True)
class Tiers:
    basis: str  # "annual" (reset 1 January) or "monthly"
    thresholds: tuple[Decimal, ...]  # upper kWh bound of tier 1, tier 2, …
    surcharges: tuple[Decimal, ...]  # yuan/kWh over tier 1 for tier 2, tier 3, …


@dataclass(frozen=True)
class TariffParams:
    """One tariff version's prices, parsed from its JSON (`parse_params`)."""

    energy_price: Decimal | None = None
    tou_prices: dict[str, Decimal] = field(default_factory=dict)
    tiers: Tiers | None = None
    basic_per_kva: Decimal | None = None
    basic_per_kw: Decimal | None = None
    pf_target: Decimal | None = None
    funds: tuple[Fund, ...] = ()
    # Clock windows of each TOU period, in minutes from midnight [start, end) (end may wrap past midnight).
    tou_windows: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def is_tou(self) -> bool:
        return bool(self.tou_prices)

    @property
    def two_part(self) -> bool:
        return self.basic_per_kva is not None or self.basic_per_kw is not None


def _dec(
    raw: Any, name: str, errors: dict[str, str], *, allow_negative: bool = False, places: int | None = None
) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        errors[name] = _("缺少数值")
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        errors[name] = _("不是有效的数值：%(v)s") % {"v": raw}
        return None
    if not value.is_finite():
        errors[name] = _("不是有效的数值：%(v)s") % {"v": raw}
        return None
    if value < 0 and not allow_negative:
        errors[name] = _("不能为负数")
        return None
    if places is not None and value.as_tuple().exponent < -places:
        errors[name] = _("最多 %(n)s 位小数") % {"n": places}
        return None
    return value


def _price(raw: Any, name: str, errors: dict[str, str]) -> Decimal | None:
    return _dec(raw, name, errors, places=PRICE_PLACES)


# ---------------------------------------------------------------- TOU clock windows


def parse_clock(text: Any, *, end: bool = False) -> int | None:
    """ "08:00" → 480 minutes; "24:00" only as an end. None when malformed."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(text or ""))
    if not m:
        return None
    hours, minutes = int(m[1]), int(m[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        return None
    return hours * 60 + minutes


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window_minutes(start: int, end: int) -> range | tuple[range, range]:
    """The minutes of [start, end); a window whose end is not after its start wraps past midnight."""
    if end > start:
        return range(start, end)
    return (range(start, DAY_MINUTES), range(0, end))


def tou_window_check(windows: Sequence[tuple[int, int]]) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Which windows overlap an earlier one ({index: index of the earlier window}) and which stretches of the
    day no window covers ([(start, end)] in minutes). One rule for the JSON parameters and the editor's rows."""
    owner: list[int | None] = [None] * DAY_MINUTES
    overlaps: dict[int, int] = {}
    for i, (start, end) in enumerate(windows):
        spans = window_minutes(start, end)
        for span in spans if isinstance(spans, tuple) else (spans,):
            for minute in span:
                if owner[minute] is None:
                    owner[minute] = i
                elif i not in overlaps:
                    overlaps[i] = owner[minute]
    gaps: list[tuple[int, int]] = []
    minute = 0
    while minute < DAY_MINUTES:
        if owner[minute] is None:
            start = minute
            while minute < DAY_MINUTES and owner[minute] is None:
                minute += 1
            gaps.append((start, minute))
        minute += 1
    return overlaps, gaps


def _windows(
    raw: Any, prices: dict[str, Decimal], errors: dict[str, str]
) -> dict[str, tuple[tuple[int, int], ...]]:
    name = "params.tou_windows"
    if not isinstance(raw, dict):
        errors[name] = _('分时时段必须是对象，如 {"peak": "08:00-22:00"}')
        return {}
    out: dict[str, list[tuple[int, int]]] = {}
    flat: list[tuple[int, int]] = []
    for period, value in raw.items():
        if period not in TOU_PERIODS:
            errors[f"{name}.{period}"] = _("时段只能是 sharp/peak/flat/valley")
            continue
        if prices and period not in prices:
            errors[f"{name}.{period}"] = _("该时段没有电价")
            continue
        for text in value if isinstance(value, list) else [value]:
            start_text, _sep, end_text = str(text).partition("-")
            start, end = parse_clock(start_text), parse_clock(end_text, end=True)
            if start is None or end is None or start == end:
                errors[f"{name}.{period}"] = _("时段格式应为 HH:MM-HH:MM，如 08:00-22:00")
                break
            out.setdefault(period, []).append((start, end))
            flat.append((start, end))
    if any(k.startswith(name) for k in errors):
        return {}
    missing = [p for p in TOU_PERIODS if p in prices and p not in out]
    if missing:
        errors[name] = _("以下时段有电价但未划分时间：%(p)s") % {
            "p": "、".join(tou_label(p) for p in missing)
        }
        return {}
    overlaps, gaps = tou_window_check(flat)
    if overlaps:
        errors[name] = _("分时时段相互重叠")
    elif gaps:
        errors[name] = _("分时时段未覆盖全天 24 小时，缺少：%(g)s") % {
            "g": "、".join(f"{clock(a)}-{clock(b)}" for a, b in gaps)
        }
    return {p: tuple(v) for p, v in out.items()}


def parse_params(raw: Any) -> TariffParams:
    """Validate a version's JSON parameters; RatingError({"params.<key>": message}) when wrong.

    Shape (all numbers as decimal strings):
    {"energy_price": "0.538"}  or  {"tou_prices": {"peak": "0.568", "valley": "0.288"}},
    "tiers": {"basis": "annual", "thresholds": ["2760", "4800"], "surcharges": ["0.05", "0.30"]},
    "basic": {"per_kva": "30", "per_kw": "40"}, "pf_target": "0.90",
    "funds": [{"code": "gov_fund", "label": "政府性基金及附加", "price": "0.029"}],
    "tou_windows": {"peak": "08:00-22:00", "valley": ["22:00-24:00", "00:00-08:00"]}
    Prices have at most 4 decimals, tier bounds at most 2. TOU windows (optional; the meter's registers carry
    the kWh per period, the windows say which hours each period is) cover the day exactly once.
    """
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise RatingError({"params": _("电价参数必须是对象")})
    known = {"energy_price", "tou_prices", "tiers", "basic", "pf_target", "funds", "tou_windows"}
    for key in sorted(set(raw) - known):
        errors[f"params.{key}"] = _("未知参数")
    energy_price = None
    tou_prices: dict[str, Decimal] = {}
    has_flat = raw.get("energy_price") is not None
    has_tou = bool(raw.get("tou_prices"))
    if has_flat == has_tou:
        errors["params.energy_price"] = _("须且只能填写单一电价（energy_price）或分时电价（tou_prices）之一")
    if has_flat:
        energy_price = _price(raw["energy_price"], "params.energy_price", errors)
    if has_tou:
        if not isinstance(raw["tou_prices"], dict):
            errors["params.tou_prices"] = _("分时电价必须是对象")
        else:
            for period, price in raw["tou_prices"].items():
                if period not in TOU_PERIODS:
                    errors[f"params.tou_prices.{period}"] = _("时段只能是 sharp/peak/flat/valley")
                    continue
                value = _price(price, f"params.tou_prices.{period}", errors)
                if value is not None:
                    tou_prices[period] = value
    tiers = None
    if raw.get("tiers") is not None:
        t = raw["tiers"]
        if not isinstance(t, dict):
            errors["params.tiers"] = _("阶梯参数必须是对象")
        else:
            basis = t.get("basis", "annual")
            if basis not in TIER_BASES:
                errors["params.tiers.basis"] = _("阶梯周期只能是 annual（年）或 monthly（月）")
            thresholds = [
                _dec(v, "params.tiers.thresholds", errors, places=KWH_PLACES)
                for v in t.get("thresholds") or []
            ]
            surcharges = [_price(v, "params.tiers.surcharges", errors) for v in t.get("surcharges") or []]
            if not thresholds or len(thresholds) != len(surcharges):
                errors["params.tiers"] = _("阶梯分档电量与加价数目必须相同且至少一档")
            elif None not in thresholds and any(
                a >= b for a, b in zip(thresholds, thresholds[1:], strict=False)
            ):
                errors["params.tiers.thresholds"] = _("阶梯分档电量必须递增")
            if "params.tiers" not in errors and None not in thresholds + surcharges:
                tiers = Tiers(basis=basis, thresholds=tuple(thresholds), surcharges=tuple(surcharges))
    basic_per_kva = basic_per_kw = None
    if raw.get("basic") is not None:
        b = raw["basic"]
        if not isinstance(b, dict) or not ({"per_kva", "per_kw"} & set(b)):
            errors["params.basic"] = _("基本电价须填写 per_kva（元/千伏安·月）或 per_kw（元/千瓦·月）")
        else:
            if b.get("per_kva") is not None:
                basic_per_kva = _price(b["per_kva"], "params.basic.per_kva", errors)
            if b.get("per_kw") is not None:
                basic_per_kw = _price(b["per_kw"], "params.basic.per_kw", errors)
    pf_target = None
    if raw.get("pf_target") is not None:
        pf_target = _dec(raw["pf_target"], "params.pf_target", errors)
        if pf_target is not None and pf_target not in PF_TABLES:
            errors["params.pf_target"] = _("功率因数考核标准只能是 0.90、0.85 或 0.80")
    funds = []
    for i, f in enumerate(raw.get("funds") or []):
        if (
            not isinstance(f, dict)
            or not str(f.get("code") or "").strip()
            or not str(f.get("label") or "").strip()
        ):
            errors[f"params.funds.{i}"] = _("基金及附加须有代码（code）、名称（label）和单价（price）")
            continue
        price = _price(f.get("price"), f"params.funds.{i}.price", errors)
        if price is not None:
            funds.append(Fund(code=str(f["code"]).strip(), label=str(f["label"]).strip(), price=price))
    tou_windows: dict[str, tuple[tuple[int, int], ...]] = {}
    if raw.get("tou_windows") is not None:
        if not has_tou:
            errors["params.tou_windows"] = _("单一电价不能划分分时时段")
        else:
            tou_windows = _windows(raw["tou_windows"], tou_prices, errors)
    if errors:
        raise RatingError(errors)
    return TariffParams(
        energy_price=energy_price,
        tou_prices=tou_prices,
        tiers=tiers,
        basic_per_kva=basic_per_kva,
        basic_per_kw=basic_per_kw,
        pf_target=pf_target,
        funds=tuple(funds),
        tou_windows=tou_windows,
    )


# ---------------------------------------------------------------- inputs and outputs


@dataclass(frozen=True)
class Usage:
    """Metered kWh of the bill: a total, or per TOU period (then the total is their sum)."""

    total: Decimal
    periods: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, total: Decimal | None = None, **periods: Decimal | None) -> "Usage":
        errors: dict[str, str] = {}
        given = {p: v for p, v in periods.items() if v is not None}
        for p, v in {**given, "total": total}.items():
            if p != "total" and p not in TOU_PERIODS:
                errors[f"kwh.{p}"] = _("未知时段")
            elif v is not None and v < 0:
                errors[f"kwh.{p}"] = _("电量不能为负数")
        if total is None and not given:
            errors["kwh"] = _("请填写总电量或分时段电量")
        if errors:
            raise RatingError(errors)
        period_sum = sum(given.values(), ZERO)
        if given and total is not None and total != period_sum:
            raise RatingError({"kwh.total": _("总电量与各时段电量之和不符")})
        return cls(total=period_sum if given else total, periods=given)


@dataclass(frozen=True)
class VersionSpan:
    """A tariff version and the days it is valid (inclusive; `valid_to` None = open)."""

    valid_from: date
    valid_to: date | None
    params: TariffParams
    label: str = ""


class Line(NamedTuple):
    code: str
    label: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    part_start: date
    part_end: date
    note: str = ""


class Part(NamedTuple):
    start: date
    end: date
    days: int
    kwh: Decimal
    ytd_before: Decimal
    version_label: str = ""


@dataclass(frozen=True)
class RatingResult:
    lines: list[Line]
    total: Decimal
    parts: list[Part]


# ---------------------------------------------------------------- pieces


def days_between(start: date, end: date) -> int:
    """Calendar days from `start` to `end`, both included."""
    return (end - start).days + 1


def split_by_days(quantity: Decimal, days: Sequence[int]) -> list[Decimal]:
    """Share `quantity` by days: each share but the last rounded half-up to 0.01, the last the rest."""
    total_days = sum(days)
    shares: list[Decimal] = []
    left = quantity
    for d in days[:-1]:
        share = min((quantity * d / total_days).quantize(KWH_STEP, rounding=ROUND_HALF_UP), left)
        shares.append(share)
        left -= share
    shares.append(left)
    return shares


def tier_quantities(ytd_before: Decimal, kwh: Decimal, thresholds: Sequence[Decimal]) -> list[Decimal]:
    """kWh of (ytd_before, ytd_before + kwh] in each tier: [tier 1, tier 2, …, last tier]."""
    lo, hi = ytd_before, ytd_before + kwh
    if ZERO <= lo <= hi <= thresholds[0]:  # the usual case: all of it in tier 1
        return [kwh, *(ZERO for _t in thresholds)]
    bounds = [ZERO, *thresholds, None]
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        top = hi if b is None else min(hi, b)
        out.append(max(ZERO, top - max(lo, a)))
    return out


def round_pf(pf: Decimal) -> Decimal:
    return pf.quantize(PF_STEP, rounding=ROUND_HALF_UP)


def _parts(versions: Sequence[VersionSpan], start: date, end: date) -> list[tuple[date, date, VersionSpan]]:
    spans = []
    for v in sorted(versions, key=lambda v: v.valid_from):
        lo, hi = max(v.valid_from, start), min(v.valid_to or end, end)
        if lo <= hi:
            spans.append((lo, hi, v))
    expected = start
    for lo, hi, _v in spans:
        if lo != expected:
            break
        expected = hi + timedelta(days=1)
    if not spans or expected != end + timedelta(days=1):
        raise RatingError({"period_start": _("该期间没有完整适用的电价版本")})
    out = []
    for lo, hi, v in spans:
        tiers = v.params.tiers
        while tiers is not None and tiers.basis == "annual" and lo.year != hi.year:
            year_end = date(lo.year, 12, 31)
            out.append((lo, year_end, v))
            lo = year_end + timedelta(days=1)
        out.append((lo, hi, v))
    return out


# ---------------------------------------------------------------- the engine

_LABELS: dict[str | None, dict[str, str]] = {}


def line_labels() -> dict[str, str]:
    """Line labels in the active language, translated once per language (a run rates a million bills)."""
    lang = translation.get_language()
    labels = _LABELS.get(lang)
    if labels is None:
        labels = {
            "energy": _("电度电费"),
            "basic_demand": _("基本电费（按最大需量）"),
            "basic_capacity": _("基本电费（按容量）"),
            "pf_adjust": _("功率因数调整电费"),
            **{f"energy_{p}": _("电度电费（%(p)s）") % {"p": tou_label(p)} for p in TOU_PERIODS},
            **{f"tier{n}": _("第%(n)s档加价") % {"n": n} for n in range(2, 10)},
        }
        _LABELS[lang] = labels
    return labels


@dataclass(frozen=True)
class Prepared:
    """What a rating of one tariff over one period needs before any usage is known: the parts (version
    changes, new-year cuts) and their days. A run prepares once per tariff and rates a million accounts."""

    period_start: date
    period_end: date
    spans: tuple[tuple[date, date, VersionSpan], ...]
    days: tuple[int, ...]
    total_days: int
    basis_days: int
    any_tou: bool
    any_two_part: bool
    needs_pf: bool


def prepare(
    *, versions: Sequence[VersionSpan], period_start: date, period_end: date, month_days: int | None = None
) -> Prepared:
    """Resolve the versions over the period (RatingError when they do not cover it)."""
    if period_end < period_start:
        raise RatingError({"period_end": _("结束日期不能早于开始日期")})
    spans = tuple(_parts(versions, period_start, period_end))
    total_days = days_between(period_start, period_end)
    return Prepared(
        period_start=period_start,
        period_end=period_end,
        spans=spans,
        days=tuple(days_between(lo, hi) for lo, hi, _v in spans),
        total_days=total_days,
        basis_days=max(month_days or total_days, total_days),
        any_tou=any(v.params.is_tou for _lo, _hi, v in spans),
        any_two_part=any(v.params.two_part for _lo, _hi, v in spans),
        needs_pf=any(v.params.pf_target is not None for _lo, _hi, v in spans),
    )


def rate(
    *,
    versions: Sequence[VersionSpan],
    period_start: date,
    period_end: date,
    usage: Usage,
    ytd_kwh_before: Decimal = ZERO,
    capacity_kva: Decimal | None = None,
    max_demand_kw: Decimal | None = None,
    power_factor: Decimal | None = None,
    month_days: int | None = None,
) -> RatingResult:
    """Rate one bill. Raises RatingError({field: message}) on input the tariff cannot rate.

    `month_days`: the length of the billing month when the bill covers only part of it (move-in/out)."""
    if period_end < period_start:
        raise RatingError({"period_end": _("结束日期不能早于开始日期")})
    _check_inputs(ytd_kwh_before, capacity_kva, max_demand_kw, power_factor)
    plan = prepare(versions=versions, period_start=period_start, period_end=period_end, month_days=month_days)
    return rate_prepared(
        plan,
        usage,
        ytd_kwh_before=ytd_kwh_before,
        capacity_kva=capacity_kva,
        max_demand_kw=max_demand_kw,
        power_factor=power_factor,
    )


def _check_inputs(ytd_kwh_before, capacity_kva, max_demand_kw, power_factor) -> None:
    errors: dict[str, str] = {}
    for name, value in (
        ("ytd_kwh_before", ytd_kwh_before),
        ("capacity_kva", capacity_kva),
        ("max_demand_kw", max_demand_kw),
    ):
        if value is not None and value < 0:
            errors[name] = _("不能为负数")
    if power_factor is not None and not (ZERO < power_factor <= 1):
        errors["power_factor"] = _("功率因数须大于 0 且不超过 1")
    if errors:
        raise RatingError(errors)


def rate_prepared(
    plan: Prepared,
    usage: Usage,
    *,
    ytd_kwh_before: Decimal = ZERO,
    capacity_kva: Decimal | None = None,
    max_demand_kw: Decimal | None = None,
    power_factor: Decimal | None = None,
    labels: dict[str, str] | None = None,
) -> RatingResult:
    """Rate one bill against a prepared tariff and period (the per-account half of `rate`).
    `labels`: `line_labels()` when the caller rates many bills in one language."""
    spans, days = plan.spans, plan.days
    if plan.any_tou or plan.any_two_part or plan.needs_pf:
        errors: dict[str, str] = {}
        for _lo, _hi, v in spans:
            p = v.params
            if p.is_tou:
                if not usage.periods:
                    errors["kwh"] = _("分时电价须按尖峰、高峰、平段、低谷分别填写电量")
                for period, q in usage.periods.items():
                    if q and period not in p.tou_prices:
                        errors[f"kwh.{period}"] = _("该电价没有此时段：%(p)s") % {"p": tou_label(period)}
            if p.two_part:
                by_kw = max_demand_kw is not None and p.basic_per_kw is not None
                by_kva = capacity_kva is not None and p.basic_per_kva is not None
                if not (by_kw or by_kva):
                    name = "capacity_kva" if p.basic_per_kva is not None else "max_demand_kw"
                    errors[name] = _("两部制电价须填写受电容量（kVA）或最大需量（kW）")
            if p.pf_target is not None and power_factor is None:
                errors["power_factor"] = _("该电价须填写功率因数")
        if errors:
            raise RatingError(errors)

    labels = labels or line_labels()
    one_part = len(spans) == 1
    totals = [usage.total] if one_part else split_by_days(usage.total, days)
    period_shares = (
        {p: [q] for p, q in usage.periods.items()}
        if one_part
        else {p: split_by_days(q, days) for p, q in usage.periods.items()}
    )
    pf = round_pf(power_factor) if power_factor is not None else None
    total_days, basis_days = plan.total_days, plan.basis_days

    lines: list[Line] = []
    add = lines.append
    parts: list[Part] = []
    ytd = ytd_kwh_before
    year = plan.period_start.year
    bill_kwh_so_far = ZERO
    for i, (lo, hi, v) in enumerate(spans):
        p = v.params
        kwh = totals[i]
        if lo.year != year:
            ytd, year = ZERO, lo.year
        tier_from = ytd if (p.tiers and p.tiers.basis == "annual") else bill_kwh_so_far
        parts.append(Part(lo, hi, days[i], kwh, tier_from, v.label))
        part_lines_start = len(lines)
        if p.two_part:
            share = Decimal(days[i]) / basis_days
            note = (
                ""
                if days[i] == basis_days
                else _("按天折算 %(d)s/%(t)s 天") % {"d": days[i], "t": basis_days}
            )
            if max_demand_kw is not None and p.basic_per_kw is not None:
                add(
                    Line(
                        "basic_demand",
                        labels["basic_demand"],
                        max_demand_kw,
                        p.basic_per_kw,
                        money(max_demand_kw * p.basic_per_kw * share),
                        lo,
                        hi,
                        note,
                    )
                )
            else:
                add(
                    Line(
                        "basic_capacity",
                        labels["basic_capacity"],
                        capacity_kva,
                        p.basic_per_kva,
                        money(capacity_kva * p.basic_per_kva * share),
                        lo,
                        hi,
                        note,
                    )
                )
        if p.is_tou:
            for period in TOU_PERIODS:
                shares = period_shares.get(period)
                q = shares[i] if shares else ZERO
                if q:
                    price = p.tou_prices[period]
                    code = f"energy_{period}"
                    add(Line(code, labels[code], q, price, money(q * price), lo, hi))
            if len(lines) == part_lines_start or (p.two_part and len(lines) == part_lines_start + 1):
                # No energy at all in this part: the bill still shows the energy lines, at 0 kWh.
                for period in TOU_PERIODS:
                    if period in p.tou_prices:
                        code = f"energy_{period}"
                        add(Line(code, labels[code], ZERO, p.tou_prices[period], ZERO.quantize(CENT), lo, hi))
        else:
            add(Line("energy", labels["energy"], kwh, p.energy_price, money(kwh * p.energy_price), lo, hi))
        if p.tiers is not None:
            thresholds = p.tiers.thresholds
            if p.tiers.basis == "monthly" and basis_days != total_days:
                thresholds = tuple(
                    (t * total_days / basis_days).quantize(KWH_STEP, rounding=ROUND_HALF_UP)
                    for t in thresholds
                )
            per_tier = tier_quantities(tier_from, kwh, thresholds)
            for n, (q, surcharge) in enumerate(zip(per_tier[1:], p.tiers.surcharges, strict=True), start=2):
                if q:
                    code = f"tier{n}"
                    add(
                        Line(
                            code,
                            labels.get(code) or _("第%(n)s档加价") % {"n": n},
                            q,
                            surcharge,
                            money(q * surcharge),
                            lo,
                            hi,
                        )
                    )
        if p.pf_target is not None:
            base = sum((ln.amount for ln in lines[part_lines_start:]), ZERO)
            percent = adjustment_percent(p.pf_target, pf)
            note = _("功率因数 %(pf)s，考核标准 %(t)s，调整 %(pc)s%%") % {
                "pf": pf,
                "t": p.pf_target,
                "pc": f"{percent:+}",
            }
            add(
                Line(
                    "pf_adjust",
                    labels["pf_adjust"],
                    base,
                    percent / 100,
                    money(base * percent / 100),
                    lo,
                    hi,
                    note,
                )
            )
        for fund in p.funds:
            add(Line(f"fund_{fund.code}", fund.label, kwh, fund.price, money(kwh * fund.price), lo, hi))
        ytd += kwh
        bill_kwh_so_far += kwh
    return RatingResult(lines=lines, total=sum((ln.amount for ln in lines), ZERO), parts=parts)


# ---------------------------------------------------------------- the same rules in integers, for a billing run
#
# A billing run rates a million bills, nearly all of them one tariff version over a whole month with energy
# prices, tiers and funds only. For those, `compile_prepared` turns a `Prepared` into a `Compiled` that rates
# in integers: kWh in 0.01 kWh, prices in 0.0001 yuan (parse_params allows at most 2 and 4 decimals), amounts
# in fen. Each line is quantity × price rounded half-up to the fen, exactly as `money()` does it: the product
# of two exact decimals is exact in integers, and (x + 5000) // 10000 rounds a non-negative x half-up.
# `Compiled.rate` returns None whenever its input is outside that domain (a quantity that is not a whole
# 0.01 kWh or is negative, a TOU period the tariff has no price for, no TOU kWh at all), and `compile_prepared`
# returns None for a plan it does not cover (several parts, fewer days than the month, two-part, power
# factor): the caller then rates with `rate_prepared`, whose errors and lines stay the reference. Proven
# identical to `rate_prepared` by tests/billing/test_rating_fast.py.

_PRICE_UNIT = 10_000  # prices in 0.0001 yuan
_HALF = _PRICE_UNIT // 2


class _NotCompiled(Exception):
    """A tariff `Compiled` does not cover (a price or bound finer than it counts in)."""


class LineKind(NamedTuple):
    """One line a compiled tariff can produce: what is the same on every bill."""

    code: str
    label: str
    unit_price: Decimal
    price: int  # unit_price in 0.0001 yuan


def exact_units(value: Decimal, places: int) -> int | None:
    """`value` × 10^places as an int when that is exact and not negative, else None (exact_units(1.25, 2) = 125)."""
    n = value.scaleb(places)
    i = int(n)
    return i if i == n and i >= 0 else None


class FastResult:
    """A bill rated by `Compiled.rate`: its lines as (kind index, quantity in 0.01 kWh, amount in fen). Reads
    like a `RatingResult` (`total`, `lines`, `parts`) for the callers that want Decimals."""

    __slots__ = ("compiled", "total_fen", "items", "kwh", "tier_from")

    def __init__(self, compiled: "Compiled", total_fen: int, items: list, kwh: int, tier_from: int):
        self.compiled = compiled
        self.total_fen = total_fen
        self.items = items
        self.kwh = kwh
        self.tier_from = tier_from

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_fen).scaleb(-2)

    @property
    def lines(self) -> list[Line]:
        c = self.compiled
        kinds, lo, hi = c.kinds, c.start, c.end
        return [
            Line(
                kinds[k].code,
                kinds[k].label,
                Decimal(q).scaleb(-2),
                kinds[k].unit_price,
                Decimal(a).scaleb(-2),
                lo,
                hi,
            )
            for k, q, a in self.items
        ]

    @property
    def parts(self) -> list[Part]:
        c = self.compiled
        return [
            Part(
                c.start,
                c.end,
                c.days,
                Decimal(self.kwh).scaleb(-2),
                Decimal(self.tier_from).scaleb(-2),
                c.version_label,
            )
        ]


class Compiled:
    """A `Prepared` of one part over a whole month, without basic charge or power factor, in integers."""

    __slots__ = (
        "start",
        "end",
        "days",
        "version_label",
        "kinds",
        "tou",
        "energy",
        "tou_kinds",
        "zero_items",
        "annual",
        "thresholds",
        "tier_kinds",
        "funds",
    )

    def __init__(self, plan: Prepared, labels: dict[str, str], p: TariffParams, version_label: str):
        self.start, self.end, self.days = plan.period_start, plan.period_end, plan.total_days
        self.version_label = version_label
        kinds: list[LineKind] = []

        def kind(code: str, label: str, price: Decimal) -> int | None:
            scaled = exact_units(price, 4)
            if scaled is None:
                raise _NotCompiled
            kinds.append(LineKind(code, label, price, scaled))
            return len(kinds) - 1

        self.tou = p.is_tou
        self.energy = None
        self.tou_kinds: tuple = ()
        self.zero_items: tuple = ()
        if self.tou:
            self.tou_kinds = tuple(
                kind(f"energy_{period}", labels[f"energy_{period}"], p.tou_prices[period])
                if period in p.tou_prices
                else None
                for period in TOU_PERIODS
            )
            # No energy at all: the bill still shows the energy lines, at 0 kWh.
            self.zero_items = tuple((k, 0, 0) for k in self.tou_kinds if k is not None)
        else:
            self.energy = kind("energy", labels["energy"], p.energy_price)
        self.annual = False
        self.thresholds: tuple[int, ...] = ()
        self.tier_kinds: tuple[int, ...] = ()
        if p.tiers is not None:
            self.annual = p.tiers.basis == "annual"
            thresholds = tuple(exact_units(t, 2) for t in p.tiers.thresholds)
            if None in thresholds or not thresholds or len(thresholds) != len(p.tiers.surcharges):
                raise _NotCompiled
            self.thresholds = thresholds
            self.tier_kinds = tuple(
                kind(f"tier{n}", labels.get(f"tier{n}") or _("第%(n)s档加价") % {"n": n}, surcharge)
                for n, surcharge in enumerate(p.tiers.surcharges, start=2)
            )
        self.funds = tuple(kind(f"fund_{f.code}", f.label, f.price) for f in p.funds)
        self.kinds = tuple(kinds)

    def rate(self, kwh: int, periods: tuple | None = None, ytd: int = 0) -> FastResult | None:
        """Rate one bill: `kwh` in 0.01 kWh (not negative), for a TOU tariff `periods` (the kWh of sharp, peak,
        flat and valley in 0.01 kWh, None where the meter gave none), `ytd` the year's kWh before it in
        0.01 kWh. None when `rate_prepared` must decide (see above)."""
        if kwh < 0:
            return None
        kinds = self.kinds
        items: list[tuple[int, int, int]] = []
        add = items.append
        total = 0
        if self.tou:
            if periods is None:
                return None
            given = False
            for k, q in zip(self.tou_kinds, periods, strict=True):
                if q is None:
                    continue
                given = True
                if q:
                    if k is None or q < 0:
                        return None
                    a = (q * kinds[k].price + _HALF) // _PRICE_UNIT
                    add((k, q, a))
                    total += a
            if not given:
                return None
            if not items:
                items.extend(self.zero_items)
        else:
            k = self.energy
            a = (kwh * kinds[k].price + _HALF) // _PRICE_UNIT
            add((k, kwh, a))
            total += a
        tier_from = 0
        if self.thresholds:
            thresholds = self.thresholds
            if self.annual:
                tier_from = ytd
            lo, hi = tier_from, tier_from + kwh
            if not (0 <= lo <= hi <= thresholds[0]):
                bottom = max(lo, thresholds[0])
                for k, top in zip(self.tier_kinds, (*thresholds[1:], None), strict=True):
                    q = hi - bottom if top is None else min(hi, top) - bottom
                    if q > 0:
                        a = (q * kinds[k].price + _HALF) // _PRICE_UNIT
                        add((k, q, a))
                        total += a
                    if top is not None:
                        bottom = max(lo, top)
        for k in self.funds:
            a = (kwh * kinds[k].price + _HALF) // _PRICE_UNIT
            add((k, kwh, a))
            total += a
        return FastResult(self, total, items, kwh, tier_from)


def compile_prepared(plan: Prepared, labels: dict[str, str] | None = None) -> Compiled | None:
    """The integer rater of `plan`, or None when `plan` is not one it covers (see above)."""
    if len(plan.spans) != 1 or plan.basis_days != plan.total_days or plan.any_two_part or plan.needs_pf:
        return None
    _lo, _hi, v = plan.spans[0]
    p = v.params
    if p.is_tou == (p.energy_price is not None):
        return None
    try:
        return Compiled(plan, labels or line_labels(), p, v.label)
    except _NotCompiled:
        return None
