"""The working-day calendar of the database (issue 15): the years administrators hold, seeded from the
`chinese-calendar` package for the years it covers, entered or imported for the rest.

A day of a loaded year is a working day when it was entered as one (调休上班), and otherwise when it is Monday to
Friday and was not entered as a holiday. A day of a year that is not loaded counts as a working day exactly when it
is Monday to Friday, and whatever is counted on such a day is *provisional* (recomputed once the year is loaded).

`WorkCalendar` is a plain value (loaded years and entered days), so the deadline rules that read it stay pure
functions; `WorkCalendar.from_db()` reads the tables. `gridcare.core.workdays` (the package alone) is older and
serves the payment demo's bank working days only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class WorkCalendar:
    """Loaded years and the entered days (date → is working) of those years."""

    loaded_years: frozenset[int] = frozenset()
    days: Mapping[date, bool] = field(default_factory=dict)

    def is_loaded(self, year: int) -> bool:
        return year in self.loaded_years

    def is_working(self, day: date) -> bool:
        if day.year in self.loaded_years:
            entered = self.days.get(day)
            if entered is not None:
                return entered
        return day.weekday() < 5

    def nth_working_day_after(self, day: date, n: int) -> tuple[date, bool]:
        """The nth working day after `day` (which never counts) and whether any date counted lies in a year that
        is not loaded (provisional). n = 0 is `day` itself, never provisional."""
        provisional = False
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if day.year not in self.loaded_years:
                provisional = True
            if self.is_working(day):
                counted += 1
        return day, provisional

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end ≤ start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working(day):
                count += 1
        return count

    @classmethod
    def from_db(cls, years: Iterable[int] | None = None) -> WorkCalendar:
        """The calendar as stored: every loaded year, and the entered days of `years` (all when None)."""
        from .models import CalendarDay, CalendarYear

        loaded = frozenset(CalendarYear.objects.filter(loaded=True).values_list("year", flat=True))
        qs = CalendarDay.objects.filter(year__loaded=True)
        if years is not None:
            qs = qs.filter(year__year__in=list(years))
        return cls(loaded_years=loaded, days=dict(qs.values_list("date", "is_working")))


HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def package_years() -> dict[int, list[tuple[date, bool, str]]]:
    """The years the `chinese-calendar` package covers, each with its holidays (off) and 调休 days (working)."""
    from chinese_calendar import constants

    years: dict[int, list[tuple[date, bool, str]]] = {}
    for day, holiday in constants.holidays.items():
        years.setdefault(day.year, []).append((day, False, HOLIDAY_NAMES.get(holiday, holiday)))
    for day, holiday in constants.workdays.items():
        years.setdefault(day.year, []).append((day, True, HOLIDAY_NAMES.get(holiday, holiday) + "调休"))
    return {y: sorted(rows) for y, rows in years.items()}
