"""Supply-reliability indices (issue 14 §3 and "The calculation, exactly"), pure: no models, no I/O. The calculate
endpoint and (later) the stored-event report both use `compute`.

- An interruption counts in the period when it begins in it (its start converted to China time, +08:00); all of
  its customer-minutes go to the day it began (IEEE 1366), even past midnight or the period's end. Events that
  begin after the period are ignored; earlier ones are only the history of the MED threshold.
- Momentary: lasts at most `momentary_max_minutes` (end − start, to the second): it counts only in MAIFI.
- SAIFI = Σ customers / N_T; SAIDI (hours) = Σ customers × hours / N_T; CAIDI = SAIDI / SAIFI (None when SAIFI
  is 0); ASAI = RS-1 = (1 − SAIDI / period hours) × 100; RS-2 / RS-3 the same without `external` / `shortage`
  interruptions; MAIFI = Σ momentary customers / N_T.
- Daily SAIDI (minutes) of a day = Σ over the sustained interruptions that began that day of customers × minutes
  / N(d) (every cause). T_MED = exp(α + 2.5 β), α the mean and β the sample standard deviation (n − 1) of
  ln(daily SAIDI) over the days with daily SAIDI > 0 among the 1,826 days before `start`; fewer than 2 such
  days: T_MED None and no MED. A Major Event Day is a period day whose daily SAIDI > T_MED (strictly);
  "excluding MED" leaves out every interruption that began on one, momentary ones included.

Figures are unrounded floats; `period_hours` an integer.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))
CAUSES = ("planned", "temporary", "fault", "external", "shortage")
HISTORY_DAYS = 1826
MAX_PERIOD_DAYS = 3653


@dataclass(frozen=True)
class Event:
    id: str
    start: datetime  # aware
    end: datetime  # aware, not before start
    customers: int
    cause: str  # one of CAUSES
    # Aggregated inputs (stored data: one row per day, kind and momentary flag): the group's Σ customers × seconds
    # and whether it is momentary; None for a single event (customers × its own duration, and its duration).
    customer_seconds: float | None = None
    momentary: bool | None = None

    # Derived once, as plain attributes (a cached_property costs ~5 µs per read, seconds in a 100,000-event request).
    day: date = field(init=False, repr=False, compare=False)  # the start's China date
    seconds: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "day", self.start.astimezone(CHINA).date())
        object.__setattr__(self, "seconds", (self.end - self.start).total_seconds())

    @property
    def cust_seconds(self) -> float:
        return self.customers * self.seconds if self.customer_seconds is None else self.customer_seconds

    def is_momentary(self, momentary_s: float) -> bool:
        return self.seconds <= momentary_s if self.momentary is None else self.momentary


_AUTO = object()


def _indices(events: list[Event], n_t: float, hours: int, momentary_s: float) -> dict[str, float | None]:
    sustained = [e for e in events if not e.is_momentary(momentary_s)]
    momentary = [e for e in events if e.is_momentary(momentary_s)]

    def saidi(evs: list[Event]) -> float:
        return sum(e.cust_seconds / 3600 for e in evs) / n_t

    saifi = sum(e.customers for e in sustained) / n_t
    saidi_h = saidi(sustained)
    return {
        "saifi": saifi,
        "saidi_hours": saidi_h,
        "caidi_hours": saidi_h / saifi if saifi else None,
        "asai_percent": (1 - saidi_h / hours) * 100,
        "maifi": sum(e.customers for e in momentary) / n_t,
        "rs2_percent": (1 - saidi([e for e in sustained if e.cause != "external"]) / hours) * 100,
        "rs3_percent": (1 - saidi([e for e in sustained if e.cause != "shortage"]) / hours) * 100,
    }


def compute(
    *,
    customers_served: float,
    start: date,
    end: date,
    events: Sequence[Event],
    momentary_max_minutes: float = 5,
    customers_on: Callable[[date], float] | None = None,
    t_med_minutes: float | None | object = _AUTO,
) -> dict:
    """The indices of `events` over `start`..`end` (both inclusive, China days) for `customers_served` (N_T);
    `customers_on(d)` gives a day's own count for the daily SAIDI (default: N_T every day). `t_med_minutes`, when
    given (a float or None), is used instead of the threshold from the history: a month of a year uses the year's."""
    n_t = float(customers_served)
    day_count = customers_on or (lambda _d: n_t)
    hours = ((end - start).days + 1) * 24
    momentary_s = 60 * momentary_max_minutes
    in_period = [e for e in events if start <= e.day <= end]
    history_from = start - timedelta(days=HISTORY_DAYS)
    daily: dict[date, float] = defaultdict(float)
    for e in events:
        if not e.is_momentary(momentary_s) and history_from <= e.day <= end:
            daily[e.day] += e.cust_seconds / 60 / day_count(e.day)
    if t_med_minutes is _AUTO:
        logs = [math.log(v) for d, v in daily.items() if d < start and v > 0]
        t_med = math.exp(statistics.fmean(logs) + 2.5 * statistics.stdev(logs)) if len(logs) >= 2 else None
    else:
        t_med = t_med_minutes
    meds: list[date] = []
    if t_med is not None:
        meds = sorted(d for d, v in daily.items() if start <= d <= end and v > t_med)
    med_set = set(meds)
    return {
        "customers_served": customers_served,
        "period_hours": hours,
        "t_med_minutes": t_med,
        "major_event_days": [d.isoformat() for d in meds],
        "all": _indices(in_period, n_t, hours, momentary_s),
        "excluding_med": _indices([e for e in in_period if e.day not in med_set], n_t, hours, momentary_s),
    }
