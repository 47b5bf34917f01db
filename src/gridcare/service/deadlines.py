"""Commitment time limits (SPEC C4, issue 15 §3 and "Deadlines, exactly"): one pure function fed plain values.

- "N working days": 23:59:59 +08:00 on the Nth working day after the day of receipt (its China date), which never
  counts; provisional when any date counted lies in a year the calendar does not hold.
- Minutes and hours: calendar time from the basis instant; never provisional.
- `restoration` counts from `arrived_at` (only when given); `callback` from the resolution (added when resolved).
Inputs are truncated to whole seconds first. `Rule`s come from the `SlaPolicy` table (`policies.rules_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridcare.core.calendar import WorkCalendar

from .choices import DEADLINE_ORDER

CHINA = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class Rule:
    """A named deadline: `amount` minutes, hours or working days from the basis (received/arrived/resolved)."""

    name: str
    amount: int
    unit: str
    basis: str = "received"


@dataclass(frozen=True)
class Deadline:
    name: str
    due_at: datetime  # aware, +08:00, whole seconds
    provisional: bool
    amount: int
    unit: str
    starts_at: datetime


def whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def due(rule: Rule, start: datetime, calendar: WorkCalendar) -> tuple[datetime, bool]:
    """When `rule` falls due counting from `start` (aware), and whether it is provisional."""
    start = whole_seconds(start).astimezone(CHINA)
    if rule.unit == "minutes":
        return start + timedelta(minutes=rule.amount), False
    if rule.unit == "hours":
        return start + timedelta(hours=rule.amount), False
    day, provisional = calendar.nth_working_day_after(start.date(), rule.amount)
    return datetime.combine(day, END_OF_DAY, tzinfo=CHINA), provisional


def compute(
    rules: list[Rule],
    *,
    received_at: datetime,
    arrived_at: datetime | None = None,
    resolved_at: datetime | None = None,
    calendar: WorkCalendar,
) -> list[Deadline]:
    """The deadlines of `rules` whose basis is known, in the contract's order (arrival, restoration; contact,
    reply; complete; callback)."""
    bases = {"received": received_at, "arrived": arrived_at, "resolved": resolved_at}
    out = []
    for rule in sorted(rules, key=lambda r: DEADLINE_ORDER.index(r.name)):
        start = bases.get(rule.basis)
        if start is None:
            continue
        due_at, provisional = due(rule, start, calendar)
        out.append(
            Deadline(
                name=rule.name,
                due_at=due_at,
                provisional=provisional,
                amount=rule.amount,
                unit=rule.unit,
                starts_at=whole_seconds(start),
            )
        )
    return out
