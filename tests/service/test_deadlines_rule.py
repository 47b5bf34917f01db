"""The pure deadline rule (`service.deadlines.compute`) and the policy lookup (`policies.rules_for`), fed plain
values: no database, no clock. Hand-worked cases first, then properties over many received times (hypothesis)."""

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.core.calendar import WorkCalendar, package_years
from gridcare.service.deadlines import CHINA, Rule, compute, due
from gridcare.service.policies import DEFAULTS, rules_for

# The 2026 calendar as the package publishes it (holidays off, 调休 days worked); 2027 is not loaded.
CAL_2026 = WorkCalendar(
    loaded_years=frozenset({2026}),
    days={day: working for day, working, _name in package_years()[2026]},
)
NOTHING_LOADED = WorkCalendar()


def cn(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(CHINA)


def end_of(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(23, 59, 59), tzinfo=CHINA)


# ---------------------------------------------------------------- hand-worked


def test_the_worked_example():
    # Thu 2026-09-24: 25–27 off; 28 (1), 29–30 (2–3); 1–7 Oct off; 8–9 (4–5); Sat 10 (调休, 6); Mon 12 (7).
    rules = [Rule("reply", 7, "working_days"), Rule("contact", 1, "working_days")]
    got = compute(rules, received_at=cn("2026-09-24T10:00:00+08:00"), calendar=CAL_2026)
    assert [(d.name, d.due_at, d.provisional) for d in got] == [
        ("contact", end_of("2026-09-28"), False),
        ("reply", end_of("2026-10-12"), False),
    ]
    assert got[0].due_at.isoformat() == "2026-09-28T23:59:59+08:00"


def test_the_deadlines_come_in_the_contracts_order_and_only_with_their_basis():
    rules = [
        Rule("callback", 1, "working_days", "resolved"),
        Rule("restoration", 3, "hours", "arrived"),
        Rule("arrival", 45, "minutes"),
    ]
    received = cn("2026-09-24T10:00:00+08:00")
    assert [d.name for d in compute(rules, received_at=received, calendar=CAL_2026)] == ["arrival"]
    got = compute(
        rules,
        received_at=received,
        arrived_at=cn("2026-09-24T10:20:00+08:00"),
        resolved_at=cn("2026-09-24T12:00:00+08:00"),
        calendar=CAL_2026,
    )
    # arrival 10:45; restoration 10:20 + 3 h = 13:20; callback: the working day after Thu 24 is Mon 28
    assert [(d.name, d.due_at) for d in got] == [
        ("arrival", cn("2026-09-24T10:45:00+08:00")),
        ("restoration", cn("2026-09-24T13:20:00+08:00")),
        ("callback", end_of("2026-09-28")),
    ]
    assert got[1].starts_at == cn("2026-09-24T10:20:00+08:00")


def test_year_end_into_an_unloaded_year():
    # Thu 2026-12-31 + 1 working day: Fri 2027-01-01 (2027 unloaded: a weekday counts) → provisional.
    assert due(Rule("contact", 1, "working_days"), cn("2026-12-31T09:00:00+08:00"), CAL_2026) == (
        end_of("2027-01-01"),
        True,
    )
    # Wed 2026-12-30 + 1: Thu 31 Dec, nothing of 2027 counted → not provisional.
    assert due(Rule("contact", 1, "working_days"), cn("2026-12-30T09:00:00+08:00"), CAL_2026) == (
        end_of("2026-12-31"),
        False,
    )
    # hours never count a date
    assert due(Rule("complete", 24, "hours"), cn("2026-12-31T09:00:00+08:00"), CAL_2026) == (
        cn("2027-01-01T09:00:00+08:00"),
        False,
    )


def test_the_day_of_receipt_is_the_china_date():
    # 2026-09-29 20:00 UTC is Wed 30 Sep 04:00 in China: the next working day is Thu 8 Oct (1–7 off).
    assert due(Rule("contact", 1, "working_days"), datetime(2026, 9, 29, 20, 0, tzinfo=UTC), CAL_2026)[
        0
    ] == end_of("2026-10-08")


# ---------------------------------------------------------------- the policy table


def test_the_defaults_give_each_type_its_contract():
    def names(order_type, sub_type="", area=""):
        return sorted(
            (r.name, r.amount, r.unit, r.basis) for r in rules_for(DEFAULTS, order_type, sub_type, area)
        )

    assert names("fault", area="rural") == [
        ("arrival", 90, "minutes", "received"),
        ("callback", 1, "working_days", "resolved"),
        ("restoration", 4, "hours", "arrived"),
    ]
    assert names("complaint", "outage") == [
        ("callback", 1, "working_days", "resolved"),
        ("contact", 1, "working_days", "received"),
        ("reply", 7, "working_days", "received"),
    ]
    assert names("service_request", "reading_data") == [
        ("callback", 1, "working_days", "resolved"),
        ("complete", 6, "working_days", "received"),
    ]
    # consultation and praise: only the (optional) callback, nothing counted from receipt
    assert [r.name for r in rules_for(DEFAULTS, "consultation", "", "")] == ["callback"]


def test_the_most_specific_row_wins():
    rows = [
        *DEFAULTS,
        ("complaint", "", "remote", "contact", 3, "working_days", "received"),
        ("complaint", "quality", "", "contact", 2, "working_days", "received"),
    ]
    amount = {
        (sub, area): next(r.amount for r in rules_for(rows, "complaint", sub, area) if r.name == "contact")
        for sub in ("", "quality")
        for area in ("", "remote")
    }
    # type+sub (score 6) beats type+area (5) beats type (4)
    assert amount == {("", ""): 1, ("", "remote"): 3, ("quality", ""): 2, ("quality", "remote"): 2}


# ---------------------------------------------------------------- properties


# Any China wall-clock time of 2026 (hypothesis bounds are naive); counting from late December runs into 2027.
instants = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 31, 23, 59, 59, 999999),  # noqa: DTZ001
).map(lambda d: d.replace(tzinfo=CHINA))
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=300, deadline=None)
@given(
    received=instants,
    n=st.integers(min_value=1, max_value=15),
    calendar=st.sampled_from([CAL_2026, NOTHING_LOADED]),
)
def test_n_working_days_ends_at_2359_59_on_the_nth_working_day_after_the_day_of_receipt(
    received, n, calendar
):
    due_at, provisional = due(Rule("reply", n, "working_days"), received, calendar)
    receipt_day = received.astimezone(CHINA).date()
    assert due_at.tzinfo == CHINA and due_at.timetz().replace(tzinfo=None) == time(23, 59, 59)
    day = due_at.date()
    assert day > receipt_day
    assert calendar.is_working(day)
    assert calendar.working_days_between(receipt_day, day) == n
    counted = [receipt_day + timedelta(days=i) for i in range(1, (day - receipt_day).days + 1)]
    assert provisional == any(d.year not in calendar.loaded_years for d in counted)


@settings(max_examples=300, deadline=None)
@given(
    received=instants,
    n=st.integers(min_value=1, max_value=48),
    unit=st.sampled_from(["minutes", "hours"]),
    calendar=st.sampled_from([CAL_2026, NOTHING_LOADED]),
)
def test_minutes_and_hours_are_calendar_time_and_never_provisional(received, n, unit, calendar):
    due_at, provisional = due(Rule("arrival", n, unit), received, calendar)
    assert not provisional
    assert due_at == received.replace(microsecond=0) + timedelta(**{unit: n})
    assert due_at.utcoffset() == timedelta(hours=8) and due_at.microsecond == 0


@settings(max_examples=200, deadline=None)
@given(received=instants, tz=offsets, micro=st.integers(min_value=0, max_value=999999))
def test_the_offset_and_the_microseconds_change_nothing(received, tz, micro):
    rules = [r for r in rules_for(DEFAULTS, "complaint", "", "") if r.basis == "received"]
    rules += [Rule("arrival", 45, "minutes")]
    base = received.replace(microsecond=0)
    same_instant = base.replace(microsecond=micro).astimezone(tz)
    assert compute(rules, received_at=same_instant, calendar=CAL_2026) == compute(
        rules, received_at=base, calendar=CAL_2026
    )


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("2026-10-16T09:00:00+08:00", "2026-10-19"),  # Fri → Mon (weekend)
        ("2026-10-17T09:00:00+08:00", "2026-10-19"),  # Sat → Mon
        ("2026-02-13T09:00:00+08:00", "2026-02-14"),  # Fri → Sat 14 Feb (调休 working)
        ("2026-02-14T09:00:00+08:00", "2026-02-24"),  # Sat (worked) → Tue 24 (15–23 Spring Festival)
        ("2026-09-30T23:59:59+08:00", "2026-10-08"),  # Wed, last second → Thu 8 Oct (National Day)
        ("2026-10-09T09:00:00+08:00", "2026-10-10"),  # Fri → Sat 10 Oct (调休 working)
    ],
)
def test_one_working_day_by_hand(received, expected):
    assert due(Rule("contact", 1, "working_days"), cn(received), CAL_2026) == (end_of(expected), False)
