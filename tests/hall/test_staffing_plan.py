"""The per-hour staffing plan (issue 16 §9): arrivals of a weekday and hour over the 8 weeks before the planned
week (open days only), the hall-wide mean service time, the recommendation of `erlang.staffing` fed those
hand-computed figures, hours with no arrivals, unreachable targets, counters open and waits seen."""

from datetime import date, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from gridcare.hall import api_reports, erlang, staffing_plan, views_reports
from gridcare.hall.models import CounterSession, HallClosure

from .conftest import T0
from .test_kpis import _ticket, cn

# The plan for the week of Tuesday 2026-03-10: Monday 2026-03-09 → Sunday 03-15; history 2026-01-12 → 03-08.
TUESDAY_COUNTS = {  # tickets issued 10:00–11:00 on each open Tuesday of the history
    date(2026, 1, 13): 10,
    date(2026, 1, 20): 12,
    date(2026, 1, 27): 8,
    date(2026, 2, 3): 10,
    date(2026, 2, 10): 14,
    date(2026, 2, 24): 6,
    date(2026, 3, 3): 10,
}  # 70 over 7 open Tuesdays (Feb 17 closed): λ = 10 per hour


def _served(hall, cat, day: date, hour: int, minute: int, n: int, wait: int = 4):
    """`n` (even) tickets issued at day hour:minute, called `wait` min later, half served 5 min, half 7."""
    at = cn(day.year, day.month, day.day, hour, minute)
    called = at + timedelta(minutes=wait)
    _ticket(hall, cat, at, n // 2, called=called, finished=called + timedelta(minutes=5))
    _ticket(hall, cat, at, n - n // 2, called=called, finished=called + timedelta(minutes=7))


@pytest.fixture
def history(hw):
    w, pay = hw, hw.cat["payment"]
    for d, n in TUESDAY_COUNTS.items():
        _served(w.hall_a, pay, d, 10, 20, n)
    HallClosure.objects.create(hall=w.hall_a, day=date(2026, 2, 17), reason="春节")
    # Left out: a closed day (with a service time that would show), before the 8 weeks, the planned week.
    _ticket(
        w.hall_a, pay, cn(2026, 2, 17, 10, 5), 5, called=cn(2026, 2, 17, 11), finished=cn(2026, 2, 17, 12)
    )
    _served(w.hall_a, pay, date(2026, 1, 6), 10, 0, 8)
    _served(w.hall_a, pay, date(2026, 3, 10), 10, 0, 6)
    # Wednesdays 14:00: 28 an hour on all 8 → A = 2.8 with 3 counters: the target is out of reach.
    d = date(2026, 1, 14)
    while d < date(2026, 3, 9):
        _served(w.hall_a, pay, d, 14, 10, 28, wait=30)
        d += timedelta(days=7)
    # One Thursday 15:00 with 260: λ = 260 / 8 = 32.5, A = 3.25 > 3 counters.
    _served(w.hall_a, pay, date(2026, 2, 5), 15, 0, 260)
    # Mondays 08:30–09:00 (half an hour open): 2 each → 4 an hour.
    d = date(2026, 1, 12)
    while d < date(2026, 3, 9):
        _served(w.hall_a, pay, d, 8, 45, 2)
        d += timedelta(days=7)
    # Counter c1 open 10:00–11:00 on two Tuesdays (and on the closed day, left out).
    for day in (date(2026, 1, 13), date(2026, 1, 20), date(2026, 2, 17)):
        o = cn(day.year, day.month, day.day, 10)
        CounterSession.objects.create(counter=w.c1, opened_at=o, closed_at=o + timedelta(hours=1))
    return w


def _plan(w, level=0.8):
    return staffing_plan.staffing_plan(
        user=w.a_manager, hall_id=w.hall_a.pk, week=date(2026, 3, 9), service_level=level, now=T0
    )


def _hour(doc, weekday, hour):
    day = next(d for d in doc["days"] if d["weekday"] == weekday)
    return next(r for r in day["hours"] if r["hour"] == hour)


def test_arrivals_service_and_recommendation(history):
    doc = _plan(history)
    assert doc["week"] == {"from": date(2026, 3, 9), "to": date(2026, 3, 15)}
    assert doc["history"]["from"] == date(2026, 1, 12) and doc["history"]["to"] == date(2026, 3, 8)
    assert doc["history"]["open_days"] == 55  # 56 days less Feb 17
    assert doc["mean_service_minutes"] == pytest.approx(6.0)  # every day half 5 min, half 7
    assert doc["counters"] == 3
    tue = next(d for d in doc["days"] if d["weekday"] == 2)
    assert tue["history_days"] == 7 and tue["open"]
    r = _hour(doc, 2, 10)
    assert r["tickets"] == 70
    assert r["arrivals_per_hour"] == pytest.approx(10.0)
    expected = erlang.staffing(
        arrivals_per_hour=10.0,
        mean_service_minutes=6.0,
        target_wait_seconds=15 * 60,
        target_service_level=0.8,
        max_counters=3,
    )
    assert r["plan"]["recommended"] == expected.counters == 2  # A = 1: 2 counters serve 80 % within 15 min
    assert r["plan"]["service_level"] == pytest.approx(expected.service_level)
    assert r["counters_open"] == round(2 / 7, 2)  # 2 counter-hours over 7 open Tuesdays
    assert r["wait_mean_minutes"] == 4.0 and r["within_target_share"] == 1.0
    # A stricter level asks more of the same arrivals.
    strict = _hour(_plan(history, 0.99), 2, 10)["plan"]
    assert (
        strict["recommended"]
        == erlang.staffing(
            arrivals_per_hour=10.0,
            mean_service_minutes=6.0,
            target_wait_seconds=900,
            target_service_level=0.99,
            max_counters=3,
        ).counters
    )


def test_no_arrivals_partial_hour_and_unreachable(history):
    doc = _plan(history)
    quiet = _hour(doc, 2, 11)
    assert quiet["tickets"] == 0 and quiet["plan"]["recommended"] == 0 and quiet["counters_open"] == 0
    # Monday 08:00 hour: open 08:30–09:00, 2 a day → 4 an hour.
    assert _hour(doc, 1, 8)["arrivals_per_hour"] == pytest.approx(4.0)
    # Wednesday 14:00: A = 28 × 0.1 = 2.8; 3 counters reach only their best level.
    wed = _hour(doc, 3, 14)["plan"]
    best = erlang.row(3, 2.8, 0.1, 900)
    assert wed["reachable"] is False and wed["recommended"] is None
    assert wed["best_counters"] == 3
    assert wed["best_service_level"] == pytest.approx(best.service_level)
    assert best.service_level < 0.8
    assert (
        wed["needed"]
        == erlang.staffing(
            arrivals_per_hour=28, mean_service_minutes=6, target_wait_seconds=900, target_service_level=0.8
        ).counters
    )
    assert _hour(doc, 3, 14)["wait_mean_minutes"] == 30.0 and _hour(doc, 3, 14)["within_target_share"] == 0.0
    # Thursday 15:00: A = 3.25, more than the hall's 3 counters: no level is reachable.
    thu = _hour(doc, 4, 15)
    assert thu["arrivals_per_hour"] == pytest.approx(32.5)
    assert thu["plan"]["reachable"] is False and thu["plan"]["best_counters"] is None
    assert (
        thu["plan"]["needed"]
        == 4
        == (
            erlang.staffing(
                arrivals_per_hour=32.5,
                mean_service_minutes=6,
                target_wait_seconds=900,
                target_service_level=0.8,
            ).counters
        )
    )


def test_closed_day_of_the_planned_week_has_no_plan(history):
    HallClosure.objects.create(hall=history.hall_a, day=date(2026, 3, 12), reason="检修")
    thu = next(d for d in _plan(history)["days"] if d["weekday"] == 4)
    assert thu["open"] is False and all(r["plan"] is None for r in thu["hours"])


def test_no_history_plans_nothing(hw):
    doc = _plan(hw)
    assert doc["mean_service_minutes"] is None
    r = _hour(doc, 2, 10)
    assert r["plan"]["recommended"] == 0  # no arrivals: nothing to staff


def test_page_api_excel_and_query_bound(history, login, monkeypatch, django_assert_max_num_queries):
    w = history
    monkeypatch.setattr(views_reports, "local_today", lambda: date(2026, 3, 10))
    monkeypatch.setattr(views_reports, "report_now", lambda: T0)
    monkeypatch.setattr(api_reports, "report_now", lambda: T0)
    c = login(w.a_manager)
    url = f"/hall/{w.hall_a.pk}/staffing/"
    c.get(url)
    with django_assert_max_num_queries(16):
        r = c.get(url, {"week": "2026-03-12"})
    assert r.status_code == 200
    assert r.context["doc"]["week"]["from"] == date(2026, 3, 9)
    html = r.content.decode()
    assert 'data-testid="rec-2-10">2<' in html
    api = c.get(f"/api/v1/halls/{w.hall_a.pk}/staffing-plan", {"week": "2026-03-12", "service_level": "0.8"})
    assert api.status_code == 200
    tue = next(d for d in api.json()["days"] if d["weekday"] == 2)
    r10 = next(h for h in tue["hours"] if h["hour"] == 10)
    assert r10["plan"]["recommended"] == 2 and r10["tickets"] == 70
    x = c.get(f"/hall/{w.hall_a.pk}/staffing.xlsx", {"week": "2026-03-10"})
    assert x.status_code == 200
    ws = load_workbook(BytesIO(x.content)).active
    header = [cell.value for cell in ws[4]]
    rows = [[cell.value for cell in row] for row in ws.iter_rows(min_row=5)]
    tue10 = next(row for row in rows if row[0] == "2026-03-10" and row[2] == "10:00")
    assert tue10[header.index("建议窗口数")] == 2
    assert tue10[header.index("到达量（人/小时）")] == 10.0
    bad = c.get(url, {"service_level": "1.5"})
    assert bad.status_code == 400
    assert c.get(f"/hall/{w.hall_a.pk}/staffing.xlsx", {"week": "x"}).status_code == 400
    assert c.get(f"/hall/{w.hall_b.pk}/staffing/").status_code == 404
