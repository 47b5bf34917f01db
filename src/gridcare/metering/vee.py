"""Validation, estimation and editing (VEE) of meter reads: pure functions over Decimal, no database.

Thresholds have defaults below; a deployment overrides any of them with
`GRIDCARE["VEE"] = {"SPIKE_FACTOR": "4", ...}` in its settings (see docs/import-readings.md).

Rules (each flag is {"code", "message"}; a flagged read is written and waits in the exceptions queue):
- `negative`: the total register went down and no rollover explains it. A rollover is plausible only when
  the previous total lies in the top ROLLOVER_BAND (10 %) of the register range 10**digits and the new
  total in the bottom ROLLOVER_BAND; then consumption = (10**digits − previous + current) × multiplier.
- `zero`: zero consumption in ZERO_PERIODS (3) or more consecutive periods, this one included.
- `spike`: consumption above SPIKE_FACTOR (3) × the average of the trailing SPIKE_WINDOW (6) trusted
  periods; checked only with at least SPIKE_MIN_PERIODS (3) of history and a positive average.
- `tou_mismatch`: the TOU registers given (sharp/peak/flat/valley) differ from the total by more than
  TOU_TOLERANCE_PER_REGISTER (0.01 kWh) × the number of TOU registers given.
Meter exchange: the new meter's initial read starts its own register chain, so nothing is compared across
the two meters and no negative flag arises; an `exchange_initial` read has consumption 0.

Derived quantities (`derived`): per TOU period the register advance × 倍率 (rollover as for the total), when
this read and the previous one both carry that register. The total register is authoritative: the TOU kWh
are made to add up to `consumption` exactly by putting the difference (at most the `tou_mismatch` tolerance
on a valid read, usually 0) on the period with the largest kWh of this read (flat, peak, valley, sharp on a
tie). Reactive energy (kvarh) is the reactive register's advance × 倍率; the demand (kW) is the maximum
demand register × 倍率. A TOU or reactive register that went down without a rollover is flagged `negative`.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

REGISTERS = ("total", "sharp", "peak", "flat", "valley", "reactive", "max_demand")
TOU_REGISTERS = ("sharp", "peak", "flat", "valley")
TOU_KWH = {"sharp": "kwh_sharp", "peak": "kwh_peak", "flat": "kwh_flat", "valley": "kwh_valley"}
DERIVED = ("kwh_sharp", "kwh_peak", "kwh_flat", "kwh_valley", "kvarh", "demand_kw")
# Where the TOU rounding difference goes on a tie of the largest period.
TOU_REMAINDER_ORDER = ("flat", "peak", "valley", "sharp")
KWH = Decimal("0.01")

DEFAULTS = {
    "ROLLOVER_BAND": Decimal("0.10"),
    "ZERO_PERIODS": 3,
    "SPIKE_FACTOR": Decimal("3"),
    "SPIKE_WINDOW": 6,
    "SPIKE_MIN_PERIODS": 3,
    "TOU_TOLERANCE_PER_REGISTER": Decimal("0.01"),
    "ESTIMATE_WINDOW": 6,
}


@dataclass(frozen=True)
class Thresholds:
    """The configurable limits of the VEE rules."""

    rollover_band: Decimal
    zero_periods: int
    spike_factor: Decimal
    spike_window: int
    spike_min_periods: int
    tou_tolerance_per_register: Decimal
    estimate_window: int


def thresholds() -> Thresholds:
    """Defaults overridden by settings.GRIDCARE["VEE"]."""
    merged = {**DEFAULTS, **getattr(settings, "GRIDCARE", {}).get("VEE", {})}
    return Thresholds(
        rollover_band=Decimal(str(merged["ROLLOVER_BAND"])),
        zero_periods=int(merged["ZERO_PERIODS"]),
        spike_factor=Decimal(str(merged["SPIKE_FACTOR"])),
        spike_window=int(merged["SPIKE_WINDOW"]),
        spike_min_periods=int(merged["SPIKE_MIN_PERIODS"]),
        tou_tolerance_per_register=Decimal(str(merged["TOU_TOLERANCE_PER_REGISTER"])),
        estimate_window=int(merged["ESTIMATE_WINDOW"]),
    )


def flag(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": str(message)}


def register_advance(previous: Decimal, current: Decimal, digits: int, t: Thresholds) -> tuple[Decimal, bool]:
    """(register advance, rolled over). A negative advance means the register went down unexplained."""
    if current >= previous:
        return current - previous, False
    span = Decimal(10) ** digits
    if previous >= span * (1 - t.rollover_band) and current < span * t.rollover_band:
        return span - previous + current, True
    return current - previous, False


def consumption(
    previous: Decimal, current: Decimal, *, digits: int, multiplier: int, t: Thresholds
) -> tuple[Decimal, list[dict]]:
    """kWh between two reads of one meter, and the `negative` flag when the register went down."""
    advance, _rolled = register_advance(previous, current, digits, t)
    kwh = (advance * multiplier).quantize(KWH)
    flags = []
    if kwh < 0:
        flags.append(
            flag(
                "negative",
                _("负电量：本次示数 %(cur)s 小于上次示数 %(prev)s，且不符合表计翻转条件")
                % {"cur": current, "prev": previous},
            )
        )
    return kwh, flags


def check_history(kwh: Decimal, history: list[Decimal], t: Thresholds) -> list[dict]:
    """`zero` and `spike` against earlier periods' consumption (`history`: oldest first, trusted reads only)."""
    flags = []
    need = t.zero_periods - 1
    if (
        kwh == 0
        and need >= 0
        and len(history) >= need
        and all(h == 0 for h in history[len(history) - need :])
    ):
        flags.append(flag("zero", _("连续 %(n)d 个抄表周期零电量") % {"n": t.zero_periods}))
    window = history[-t.spike_window :] if t.spike_window > 0 else []
    if len(window) >= t.spike_min_periods:
        window_sum = sum(window, Decimal(0))
        average = window_sum / len(window)
        # kwh > factor × sum / n, compared without the division so 400 vs 3 × 133.33… is exact.
        if window_sum > 0 and kwh * len(window) > t.spike_factor * window_sum:
            flags.append(
                flag(
                    "spike",
                    _("电量突增：%(kwh)s kWh 超过前 %(n)d 期平均 %(avg)s kWh 的 %(f)s 倍")
                    % {"kwh": kwh, "n": len(window), "avg": average.quantize(KWH), "f": t.spike_factor},
                )
            )
    return flags


def check_tou(registers: dict[str, Decimal | None], t: Thresholds) -> list[dict]:
    """`tou_mismatch` when the TOU registers given don't add up to the total within the tolerance."""
    given = [registers[r] for r in TOU_REGISTERS if registers.get(r) is not None]
    if not given or registers.get("total") is None:
        return []
    total = registers["total"]
    tou_sum = sum(given, Decimal(0))
    tolerance = t.tou_tolerance_per_register * len(given)
    if abs(tou_sum - total) > tolerance:
        return [
            flag(
                "tou_mismatch",
                _("分时示数之和 %(s)s 与总示数 %(t)s 相差超过 %(tol)s")
                % {"s": tou_sum, "t": total, "tol": tolerance},
            )
        ]
    return []


def estimate_kwh(history: list[tuple[int, Decimal]], days: int, t: Thresholds) -> Decimal | None:
    """Average daily consumption over the trailing ESTIMATE_WINDOW periods × `days`; None without history.

    `history` is (days in period, kWh) per trusted period, oldest first.
    """
    window = [(d, k) for d, k in history if d > 0][-t.estimate_window :] if t.estimate_window > 0 else []
    total_days = sum(d for d, _k in window)
    if not window or total_days <= 0:
        return None
    per_day = sum((k for _d, k in window), Decimal(0)) / total_days
    return (per_day * days).quantize(KWH)


def advance_register(previous: Decimal, kwh: Decimal, *, digits: int, multiplier: int) -> Decimal:
    """The register value `kwh` after `previous`, wrapping at 10**digits."""
    span = Decimal(10) ** digits
    return ((previous + kwh / multiplier) % span).quantize(KWH)


def days_between(earlier: date, later: date) -> int:
    return (later - earlier).days


def evaluate(
    *,
    previous_total: Decimal | None,
    registers: dict[str, Decimal | None],
    source: str,
    digits: int,
    multiplier: int,
    history: list[Decimal],
    t: Thresholds,
) -> tuple[Decimal | None, list[dict]]:
    """(consumption, flags) of a new read given the meter's previous total and the account's trusted history.

    An `exchange_initial` read starts a new register chain: consumption 0, only the TOU check. The first read
    of a meter has no consumption. An `exchange_final` read covers part of a period, so it is not compared
    with the history (zero / spike).
    """
    flags = check_tou(registers, t)
    if source == "exchange_initial":
        return Decimal("0.00"), flags
    if previous_total is None:
        return None, flags
    kwh, negative = consumption(previous_total, registers["total"], digits=digits, multiplier=multiplier, t=t)
    flags = negative + flags
    if not negative and source != "exchange_final":
        flags = check_history(kwh, history, t) + flags
    return kwh, flags


def _advance_kwh(
    previous: Decimal, current: Decimal, *, digits: int, multiplier: int, t: Thresholds
) -> Decimal:
    advance, _rolled = register_advance(previous, current, digits, t)
    return (advance * multiplier).quantize(KWH)


def balance_tou(kwh: dict[str, Decimal], total: Decimal) -> dict[str, Decimal]:
    """TOU kWh made to add up to `total`: the difference goes to the largest period (tie: TOU_REMAINDER_ORDER)."""
    if not kwh:
        return kwh
    diff = total - sum(kwh.values(), Decimal(0))
    if diff:
        order = {p: n for n, p in enumerate(TOU_REMAINDER_ORDER)}
        biggest = max(kwh, key=lambda p: (kwh[p], -order[p]))
        kwh = {**kwh, biggest: kwh[biggest] + diff}
    return kwh


def derived(
    *,
    previous: dict[str, Decimal | None] | None,
    registers: dict[str, Decimal | None],
    source: str,
    consumption_kwh: Decimal | None,
    digits: int,
    multiplier: int,
    t: Thresholds,
) -> tuple[dict[str, Decimal | None], list[dict]]:
    """({kwh_sharp…kwh_valley, kvarh, demand_kw}, flags) of a read given the previous read's registers."""
    out: dict[str, Decimal | None] = dict.fromkeys(DERIVED)
    flags: list[dict] = []
    if registers.get("max_demand") is not None:
        out["demand_kw"] = (registers["max_demand"] * multiplier).quantize(KWH)
    tou_given = [p for p in TOU_REGISTERS if registers.get(p) is not None]
    if source == "exchange_initial":
        for p in tou_given:
            out[TOU_KWH[p]] = Decimal("0.00")
        if registers.get("reactive") is not None:
            out["kvarh"] = Decimal("0.00")
        return out, flags
    if previous is None or consumption_kwh is None:
        return out, flags
    if tou_given and all(previous.get(p) is not None for p in tou_given):
        tou = {
            p: _advance_kwh(previous[p], registers[p], digits=digits, multiplier=multiplier, t=t)
            for p in tou_given
        }
        negative = [p for p, v in tou.items() if v < 0]
        if negative:
            flags.append(flag("negative", _("分时示数倒走：%(p)s") % {"p": ", ".join(negative)}))
        elif consumption_kwh >= 0:
            for p, v in balance_tou(tou, consumption_kwh).items():
                out[TOU_KWH[p]] = v
    if registers.get("reactive") is not None and previous.get("reactive") is not None:
        kvarh = _advance_kwh(
            previous["reactive"], registers["reactive"], digits=digits, multiplier=multiplier, t=t
        )
        if kvarh < 0:
            flags.append(
                flag(
                    "negative",
                    _("无功示数倒走：本次 %(cur)s 小于上次 %(prev)s")
                    % {"cur": registers["reactive"], "prev": previous["reactive"]},
                )
            )
        else:
            out["kvarh"] = kvarh
    return out, flags


def evaluate_read(
    *,
    previous: dict[str, Decimal | None] | None,
    registers: dict[str, Decimal | None],
    source: str,
    digits: int,
    multiplier: int,
    history: list[Decimal],
    t: Thresholds,
) -> tuple[Decimal | None, dict[str, Decimal | None], list[dict]]:
    """`evaluate` plus `derived`: (consumption, derived quantities, flags)."""
    kwh, flags = evaluate(
        previous_total=previous["total"] if previous else None,
        registers=registers,
        source=source,
        digits=digits,
        multiplier=multiplier,
        history=history,
        t=t,
    )
    extra, more = derived(
        previous=previous,
        registers=registers,
        source=source,
        consumption_kwh=kwh,
        digits=digits,
        multiplier=multiplier,
        t=t,
    )
    return kwh, extra, flags + more


def estimate_split(kwh: Decimal, shares: dict[str, Decimal]) -> dict[str, Decimal]:
    """Split an estimated kWh by historical TOU shares (kWh per period over the history), balanced to `kwh`."""
    base = sum(shares.values(), Decimal(0))
    if base <= 0:
        return {}
    return balance_tou({p: (kwh * v / base).quantize(KWH) for p, v in shares.items()}, kwh)
