"""Calendar-month arithmetic shared by the rules that look back a number of months (hall reports, credit rating)."""

import calendar
from datetime import date


def months_back(day: date, months: int) -> date:
    """`day` minus `months` calendar months, keeping the day number clamped to the target month's end
    (2026-03-31 − 1 month = 2026-02-28); a negative `months` goes forward."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
