"""Power-factor adjustment table 功率因数调整电费表, (83)水电财字第215号《功率因数调整电费办法》.

Data only, one entry per target (标准值) 0.90 / 0.85 / 0.80:
- `reductions`: the 减收 side, PF (two decimals) → percent; a PF above the highest key takes the
  highest key's value (e.g. target 0.90: 0.95–1.00 all −0.75 %).
- `increases`: the 增收 side as bands walked downward from the target: (floor, percent per 0.01).
  For target 0.90: +0.5 % per 0.01 down to 0.70 (0.70 → +10 %), then +1 % per 0.01 down to 0.65
  (0.65 → +15 %), then +2 % per 0.01 with no floor (0.64 → +17 %, 0.62 → +21 %).

Cross-checked against a public implementation of the same 1983 table (0.90: ≥0.95 −0.75, −0.15 per
0.01 from 0.90; 0.80: ≥0.92 −1.30, 0.91 −1.15, −0.10 per 0.01 from 0.80; band floors 0.70/0.65,
0.65/0.60, 0.60/0.55). For target 0.85 the table's 0.94–1.00 row is −1.10 % (the continuation of
the −0.15 %/0.01 steps 0.91 −0.65 … 0.93 −0.95); one public re-implementation rounds it to −1 %.

The measured PF is rounded half-up to 0.01 before the look-up (`gridcare.billing.rating`).
"""

from dataclasses import dataclass
from decimal import Decimal

D = Decimal
STEP = D("0.01")


@dataclass(frozen=True)
class PfTable:
    """One target's row set: reductions at/above the target, increase bands below it."""

    target: Decimal
    reductions: dict[Decimal, Decimal]
    increases: tuple[tuple[Decimal | None, Decimal], ...]


def _reductions(pairs: dict[str, str]) -> dict[Decimal, Decimal]:
    return {D(k): D(v) for k, v in pairs.items()}


PF_TABLES: dict[Decimal, PfTable] = {
    D("0.90"): PfTable(
        target=D("0.90"),
        reductions=_reductions(
            {"0.95": "-0.75", "0.94": "-0.60", "0.93": "-0.45", "0.92": "-0.30", "0.91": "-0.15", "0.90": "0"}
        ),
        increases=((D("0.70"), D("0.5")), (D("0.65"), D("1")), (None, D("2"))),
    ),
    D("0.85"): PfTable(
        target=D("0.85"),
        reductions=_reductions(
            {
                "0.94": "-1.10",
                "0.93": "-0.95",
                "0.92": "-0.80",
                "0.91": "-0.65",
                "0.90": "-0.50",
                "0.89": "-0.40",
                "0.88": "-0.30",
                "0.87": "-0.20",
                "0.86": "-0.10",
                "0.85": "0",
            }
        ),
        increases=((D("0.65"), D("0.5")), (D("0.60"), D("1")), (None, D("2"))),
    ),
    D("0.80"): PfTable(
        target=D("0.80"),
        reductions=_reductions(
            {
                "0.92": "-1.30",
                "0.91": "-1.15",
                "0.90": "-1.00",
                "0.89": "-0.90",
                "0.88": "-0.80",
                "0.87": "-0.70",
                "0.86": "-0.60",
                "0.85": "-0.50",
                "0.84": "-0.40",
                "0.83": "-0.30",
                "0.82": "-0.20",
                "0.81": "-0.10",
                "0.80": "0",
            }
        ),
        increases=((D("0.60"), D("0.5")), (D("0.55"), D("1")), (None, D("2"))),
    ),
}
TARGETS = tuple(sorted(PF_TABLES))


def adjustment_percent(target: Decimal, pf: Decimal) -> Decimal:
    """Percent (e.g. Decimal("-0.75")) for a PF already rounded to 0.01; negative = 减收."""
    table = PF_TABLES[target]
    if pf >= table.target:
        top = max(table.reductions)
        return table.reductions[min(pf, top)]
    percent = D(0)
    upper = table.target
    for floor, per_step in table.increases:
        lower = pf if floor is None else max(pf, floor)
        percent += (upper - lower) / STEP * per_step
        if floor is None or pf >= floor:
            break
        upper = floor
    return percent
