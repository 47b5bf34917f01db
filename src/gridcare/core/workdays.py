"""The working-day calendar: official public holidays and 调休 working weekends (the State Council's yearly
schedule, from the `chinese-calendar` package).

The schedule of a year is published each November for the next year. For a year the package has no data for,
a working day is Monday–Friday except the statutory holidays fixed in the solar calendar (元旦 1 January,
劳动节 1–2 May, 国庆节 1–3 October); the lunar ones (春节, 清明, 端午, 中秋) and the 调休 days are unknown then.
"""

from datetime import date, timedelta

import chinese_calendar

FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}


def is_working_day(day: date) -> bool:
    """A working day in mainland China (see the module docstring)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def working_days_before(day: date, n: int) -> list[date]:
    """The n working days before `day` (not included), oldest first."""
    days: list[date] = []
    while len(days) < n:
        day -= timedelta(days=1)
        if is_working_day(day):
            days.append(day)
    return days[::-1]
