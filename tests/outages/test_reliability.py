"""Reliability indices (issue 14, "The calculation, exactly"): hand-made datasets, expected values derived by
hand here — a multi-day interruption, momentary ones (one exactly at the 5-minute limit), an external and a
curtailment event, a UTC timestamp, and a Major Event Day on a hand-checked daily series."""

import math
from datetime import date, datetime, timedelta, timezone

import pytest

from gridcare.outages.reliability import Event, compute

CN = timezone(timedelta(hours=8))


def ev(ident, start, end, customers, cause):
    return Event(ident, datetime.fromisoformat(start), datetime.fromisoformat(end), customers, cause)


def test_the_issues_example_one_fault_no_history():
    # 120 customers out 10:00–12:30 (2.5 h) among 120,000 over 2025 (365 days = 8,760 h)
    r = compute(
        customers_served=120000,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        events=[ev("E1", "2025-03-01T10:00:00+08:00", "2025-03-01T12:30:00+08:00", 120, "fault")],
    )
    saifi = 120 / 120000
    saidi = 120 * 2.5 / 120000
    asai = (1 - saidi / 8760) * 100
    assert (r["period_hours"], r["t_med_minutes"], r["major_event_days"]) == (8760, None, [])
    for part in ("all", "excluding_med"):
        got = r[part]
        assert got["saifi"] == pytest.approx(saifi, rel=1e-12) and got["saidi_hours"] == pytest.approx(
            saidi, rel=1e-12
        )
        assert got["caidi_hours"] == pytest.approx(2.5, rel=1e-12) and got["maifi"] == 0.0
        assert (
            got["asai_percent"] == got["rs2_percent"] == got["rs3_percent"] == pytest.approx(asai, rel=1e-12)
        )
    assert r["all"]["asai_percent"] == pytest.approx(99.99997146118722, rel=1e-14)


EVENTS_B = [
    # history (before the period): daily SAIDI 10×60/100 = 6, 10×120/100 = 12, 10×30/100 = 3 minutes
    ev("H1", "2024-06-01T10:00:00+08:00", "2024-06-01T11:00:00+08:00", 10, "fault"),
    ev("H2", "2024-07-01T10:00:00+08:00", "2024-07-01T12:00:00+08:00", 10, "planned"),
    ev("H3", "2024-08-01T10:00:00+08:00", "2024-08-01T10:30:00+08:00", 10, "external"),
    # the period, January 2025
    ev("E1", "2025-01-10T09:00:00+08:00", "2025-01-10T12:00:00+08:00", 20, "fault"),  # 20×180/100 = 36 min
    ev("E7", "2025-01-10T14:00:00+08:00", "2025-01-10T14:02:00+08:00", 30, "fault"),  # momentary, on the MED
    ev("E2", "2025-01-15T08:00:00+08:00", "2025-01-15T12:00:00+08:00", 10, "planned"),  # 24 min
    ev(
        "E3", "2025-01-20T10:00:00+08:00", "2025-01-20T10:05:00+08:00", 50, "fault"
    ),  # exactly 5 min: momentary
    ev(
        "E4", "2025-01-21T16:30:00+00:00", "2025-01-21T17:30:00+00:00", 5, "external"
    ),  # 22 Jan 00:30 China, 3 min
    ev("E5", "2025-01-25T10:00:00+08:00", "2025-01-25T12:00:00+08:00", 10, "shortage"),  # 12 min
    ev(
        "E6", "2025-01-31T22:00:00+08:00", "2025-02-01T04:00:00+08:00", 4, "fault"
    ),  # 6 h, all on 31 Jan: 14.4
    ev("E8", "2025-02-02T10:00:00+08:00", "2025-02-02T11:00:00+08:00", 99, "fault"),  # after the period
]


def test_a_major_event_day_momentary_multi_day_external_and_curtailment():
    r = compute(customers_served=100, start=date(2025, 1, 1), end=date(2025, 1, 31), events=EVENTS_B)
    hours = 31 * 24
    # ln 3, ln 6, ln 12: mean ln 6, deviations −ln 2, 0, +ln 2 → sample variance 2·ln²2 / 2, β = ln 2
    alpha, beta = math.log(6), math.log(2)
    t_med = math.exp(alpha + 2.5 * beta)
    assert r["t_med_minutes"] == pytest.approx(t_med, rel=1e-12) and t_med == pytest.approx(6 * 2**2.5)
    assert r["major_event_days"] == ["2025-01-10"]  # 36 > 33.94; 24, 3, 12 and 14.4 are not
    assert r["period_hours"] == hours
    # sustained in the period: E1 20×3 h, E2 10×4 h, E4 5×1 h (external), E5 10×2 h (shortage), E6 4×6 h
    saifi = (20 + 10 + 5 + 10 + 4) / 100
    saidi = (20 * 3 + 10 * 4 + 5 * 1 + 10 * 2 + 4 * 6) / 100
    a = r["all"]
    assert a["saifi"] == pytest.approx(saifi, rel=1e-12) and a["saidi_hours"] == pytest.approx(
        saidi, rel=1e-12
    )
    assert a["caidi_hours"] == pytest.approx(saidi / saifi, rel=1e-12)
    assert a["asai_percent"] == pytest.approx((1 - saidi / hours) * 100, rel=1e-12)
    assert a["maifi"] == pytest.approx((30 + 50) / 100, rel=1e-12)  # E7 and E3
    assert a["rs2_percent"] == pytest.approx((1 - (saidi - 5 * 1 / 100) / hours) * 100, rel=1e-12)
    assert a["rs3_percent"] == pytest.approx((1 - (saidi - 10 * 2 / 100) / hours) * 100, rel=1e-12)
    # without the MED (E1 and the momentary E7 leave)
    x = r["excluding_med"]
    saifi_x, saidi_x = (10 + 5 + 10 + 4) / 100, (10 * 4 + 5 * 1 + 10 * 2 + 4 * 6) / 100
    assert x["saifi"] == pytest.approx(saifi_x, rel=1e-12) and x["saidi_hours"] == pytest.approx(
        saidi_x, rel=1e-12
    )
    assert x["caidi_hours"] == pytest.approx(saidi_x / saifi_x, rel=1e-12)
    assert x["maifi"] == pytest.approx(50 / 100, rel=1e-12)
    assert x["rs2_percent"] == pytest.approx((1 - (saidi_x - 0.05) / hours) * 100, rel=1e-12)
    assert x["rs3_percent"] == pytest.approx((1 - (saidi_x - 0.2) / hours) * 100, rel=1e-12)


def test_fewer_than_two_history_days_mean_no_threshold_and_no_med():
    one = [EVENTS_B[0], EVENTS_B[3]]  # one history day only
    r = compute(customers_served=100, start=date(2025, 1, 1), end=date(2025, 1, 31), events=one)
    assert (r["t_med_minutes"], r["major_event_days"]) == (None, [])
    assert r["excluding_med"] == r["all"]


def test_history_older_than_1826_days_does_not_count():
    # The period starts 2025-01-01: history runs from start − 1,826 days = 2020-01-02 (2020 has 29 Feb, so five
    # years back is 1,827 days) to 2024-12-31.
    assert date(2025, 1, 1) - timedelta(days=1826) == date(2020, 1, 2)
    old = ev("O", "2020-01-01T10:00:00+08:00", "2020-01-01T11:00:00+08:00", 10, "fault")
    inside = ev("I", "2020-01-02T10:00:00+08:00", "2020-01-02T11:00:00+08:00", 10, "fault")
    base = [EVENTS_B[0], EVENTS_B[1]]  # 6 and 12 minutes
    # only 6 and 12 minutes count: mean (ln 6 + ln 12)/2 = ln 72 / 2, sample sd |ln 12 − ln 6| / √2 = ln 2 / √2
    with_old = compute(
        customers_served=100, start=date(2025, 1, 1), end=date(2025, 1, 31), events=[*base, old]
    )
    assert with_old["t_med_minutes"] == pytest.approx(
        math.exp(math.log(72) / 2 + 2.5 * math.log(2) / math.sqrt(2))
    )
    with_inside = compute(
        customers_served=100, start=date(2025, 1, 1), end=date(2025, 1, 31), events=[*base, inside]
    )
    logs = [math.log(6), math.log(6), math.log(12)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in logs) / 2)
    assert with_inside["t_med_minutes"] != with_old["t_med_minutes"]
    assert with_inside["t_med_minutes"] == pytest.approx(math.exp(mean + 2.5 * sd), rel=1e-12)
