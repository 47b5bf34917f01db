"""Erlang C staffing (issue 16 §9, "Staffing, exactly"): one pure function, fed plain values.

- Offered load A = λ × h (λ arrivals per hour, h the mean service time in hours).
- C(N, A) = (Aᴺ/N! · N/(N−A)) / (Σₖ₌₀ᴺ⁻¹ Aᵏ/k! + Aᴺ/N! · N/(N−A)) for N > A, computed without factorials through
  the Erlang B recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)), then C = N·B / (N − A·(1 − B)). This is
  the same quantity (divide numerator and denominator by Σₖ₌₀ᴺ Aᵏ/k!) and stays finite for A up to 1,000 and
  beyond.
- SL(t) = 1 − C · e^(−(N−A)·t/h); ASA = C · h / (N − A); occupancy = A / N.
- `counters` is the smallest N > A with SL(target) ≥ the target service level, searched up to `max_counters`;
  `table` lists every N from ⌊A⌋ + 1 to `counters` + 3 (even past `max_counters`).
Figures are unrounded floats (ASA in seconds)."""

from __future__ import annotations

import math
from dataclasses import dataclass


class StaffingUnreachable(ValueError):
    """No N ≤ max_counters meets the target; carries the best service level reachable within max_counters."""

    def __init__(self, best_service_level: float | None, best_counters: int | None):
        super().__init__("target service level not reachable")
        self.best_service_level = best_service_level
        self.best_counters = best_counters


@dataclass(frozen=True)
class Row:
    counters: int
    erlang_c: float
    service_level: float
    asa_seconds: float
    occupancy: float


def erlang_b(n: int, a: float) -> float:
    """Erlang B blocking probability by the recursion (no factorials, no overflow)."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """Probability of waiting C(N, A) for N > A."""
    if n <= a:
        raise ValueError("N must exceed A")
    b = erlang_b(n, a)
    return n * b / (n - a * (1.0 - b))


def row(n: int, a: float, h_hours: float, target_wait_seconds: float, *, b: float | None = None) -> Row:
    if b is None:
        b = erlang_b(n, a)
    c = n * b / (n - a * (1.0 - b))
    t_hours = target_wait_seconds / 3600.0
    sl = 1.0 - c * math.exp(-(n - a) * t_hours / h_hours)
    asa = c * h_hours / (n - a) * 3600.0
    return Row(counters=n, erlang_c=c, service_level=sl, asa_seconds=asa, occupancy=a / n)


@dataclass(frozen=True)
class Staffing:
    offered_load: float
    counters: int
    erlang_c: float
    service_level: float
    asa_seconds: float
    occupancy: float
    table: list[Row]


def staffing(
    *,
    arrivals_per_hour: float,
    mean_service_minutes: float,
    target_wait_seconds: float,
    target_service_level: float,
    max_counters: int = 1000,
) -> Staffing:
    """The smallest number of counters meeting the service level, with the table around it.

    Raises ValueError for non-positive rates or a level outside (0, 1), StaffingUnreachable when no N ≤
    max_counters meets the target (or ⌊A⌋ + 1 already exceeds it)."""
    if not (arrivals_per_hour > 0 and math.isfinite(arrivals_per_hour)):
        raise ValueError("arrivals_per_hour")
    if not (mean_service_minutes > 0 and math.isfinite(mean_service_minutes)):
        raise ValueError("mean_service_minutes")
    if not (target_wait_seconds >= 0 and math.isfinite(target_wait_seconds)):
        raise ValueError("target_wait_seconds")
    if not 0 < target_service_level < 1:
        raise ValueError("target_service_level")
    h = mean_service_minutes / 60.0
    if not h > 0:  # a positive number of minutes too small to be a positive number of hours
        raise ValueError("mean_service_minutes")
    a = arrivals_per_hour * h
    if not math.isfinite(a):
        raise ValueError("arrivals_per_hour")
    first = math.floor(a) + 1
    if first > max_counters:
        raise StaffingUnreachable(None, None)
    # Erlang B up to first − 1 once, then one recursion step per N.
    b = erlang_b(first - 1, a)
    rows: list[Row] = []
    chosen: int | None = None
    best: Row | None = None
    n = first
    while True:
        b = a * b / (n + a * b)
        r = row(n, a, h, target_wait_seconds, b=b)
        rows.append(r)
        if chosen is None:
            if n <= max_counters and (best is None or r.service_level > best.service_level):
                best = r
            if r.service_level >= target_service_level and n <= max_counters:
                chosen = n
            elif n >= max_counters:
                raise StaffingUnreachable(
                    best.service_level if best else None, best.counters if best else None
                )
        if chosen is not None and n >= chosen + 3:
            break
        n += 1
    pick = rows[chosen - first]
    return Staffing(
        offered_load=a,
        counters=chosen,
        erlang_c=pick.erlang_c,
        service_level=pick.service_level,
        asa_seconds=pick.asa_seconds,
        occupancy=pick.occupancy,
        table=rows,
    )
