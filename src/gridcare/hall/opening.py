"""When a hall is open: its weekdays and hours (China time), less its closure days. Pure helpers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def china_day(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def is_open_day(open_weekdays: str, closed_days: set[date] | frozenset[date], day: date) -> bool:
    return str(day.isoweekday()) in open_weekdays and day not in closed_days


def is_open_at(
    *, opens_at: time, closes_at: time, open_weekdays: str, closed_days, accepting: bool, at: datetime
) -> bool:
    """True when the hall takes customers at `at`: it is accepting, the China day is an open day and the China
    time lies in [opens_at, closes_at)."""
    local = at.astimezone(CHINA)
    return (
        accepting
        and is_open_day(open_weekdays, closed_days, local.date())
        and opens_at <= local.time().replace(tzinfo=None) < closes_at
    )


def opening_window(opens_at: time, closes_at: time, day: date) -> tuple[datetime, datetime]:
    """The aware [open, close) interval of `day`."""
    return (
        datetime.combine(day, opens_at, tzinfo=CHINA),
        datetime.combine(day, closes_at, tzinfo=CHINA),
    )


def opening_minutes(
    *, opens_at: time, closes_at: time, open_weekdays: str, closed_days, first: date, last: date
) -> int:
    """Minutes the hall is open from `first` to `last` inclusive."""
    per_day = max(0, (datetime.combine(first, closes_at) - datetime.combine(first, opens_at)).seconds // 60)
    if closes_at <= opens_at:
        per_day = 0
    total, day = 0, first
    while day <= last:
        if is_open_day(open_weekdays, closed_days, day):
            total += per_day
        day += timedelta(days=1)
    return total
