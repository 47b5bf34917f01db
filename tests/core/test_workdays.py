"""The working-day calendar: the State Council's schedule where it is published, Monday–Friday less the fixed
statutory holidays for a year it is not."""

from datetime import date

from gridcare.core.workdays import is_working_day, working_days_before


def test_holidays_and_adjusted_weekends_of_2026():
    # 中秋节 2026: Friday 25 – Sunday 27 September off; 国庆节: 1–7 October off, Sunday 20 September and
    # Saturday 10 October worked (调休).
    assert not is_working_day(date(2026, 9, 25))  # a Friday, but 中秋节
    assert is_working_day(date(2026, 9, 20))  # a Sunday, but worked
    assert is_working_day(date(2026, 10, 10))  # a Saturday, but worked
    assert not is_working_day(date(2026, 10, 7))  # Wednesday 7 October: 国庆节
    assert is_working_day(date(2026, 10, 8))


def test_the_working_days_before_a_day():
    # Monday 28 September 2026: Sun 27, Sat 26 and Fri 25 are 中秋节 → Thu 24, Wed 23, Tue 22, Mon 21
    assert working_days_before(date(2026, 9, 28), 4) == [
        date(2026, 9, 21),
        date(2026, 9, 22),
        date(2026, 9, 23),
        date(2026, 9, 24),
    ]
    # Monday 12 October 2026: Sun 11 off, Sat 10 worked, Fri 9, Thu 8, then 1–7 October off, Wed 30 Sep
    assert working_days_before(date(2026, 10, 12), 4) == [
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
    ]


def test_a_year_without_a_published_schedule():
    # 2028 (no data): Monday–Friday, less 1 January, 1–2 May and 1–3 October.
    assert is_working_day(date(2028, 2, 29))  # a Tuesday
    assert not is_working_day(date(2028, 3, 4))  # a Saturday
    assert not is_working_day(date(2028, 5, 1)) and not is_working_day(date(2028, 5, 2))  # Monday, Tuesday
    assert is_working_day(date(2028, 5, 3))  # Wednesday
    # Tuesday 4 January 2028: Mon 3, (weekend 1–2 January) Fri 31 Dec 2027, Thu 30, Wed 29
    assert working_days_before(date(2028, 1, 4), 4) == [
        date(2027, 12, 29),
        date(2027, 12, 30),
        date(2027, 12, 31),
        date(2028, 1, 3),
    ]
