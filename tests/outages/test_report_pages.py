"""Reliability pages with a fixed today: the yearly report, the monthly review (page, Excel, PDF), the
frequent-outage, trips and voltage pages; bad filters answer 400, other units 404."""

from datetime import date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from gridcare.outages import report_views
from gridcare.outages.freeze import freeze
from gridcare.outages.models import OutageEvent, OutageScope

CN = ZoneInfo("Asia/Shanghai")
TODAY = date(2025, 6, 30)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(report_views, "local_today", lambda: TODAY)


def fault(grid, n, area, start, hours, kind="fault"):
    ev = OutageEvent.objects.create(
        number=f"TD-R-{n}",
        unit=grid.world.station_a,
        kind=kind,
        title="线路故障",
        status="restored",
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
    )
    OutageScope.objects.create(event=ev, transformer_area=area)
    freeze(ev, start=start, end=start + timedelta(hours=hours))
    return ev


@pytest.fixture
def history(grid):
    # Station A1 has 10 accounts all period (T1 4, T2 3, T3 2 and world.acct_a), opened 2020-01-01.
    fault(grid, 1, grid.t1, datetime(2025, 3, 10, 9, tzinfo=CN), 2)  # 4 customers × 2 h = 8 customer-hours
    fault(grid, 2, grid.t3, datetime(2025, 5, 2, 14, tzinfo=CN), 1.5)  # 2 × 1.5 = 3
    return grid


def test_the_report_shows_the_year_to_date_and_the_projection(history, login):
    w = history.world
    r = login(w.a_manager).get("/reliability/", {"unit": w.station_a.pk, "year": 2025})
    body = r.content.decode()
    assert r.status_code == 200
    # SAIFI = (4 + 2) / 10 = 0.6; SAIDI = (8 + 3) / 10 = 1.1 h over 181 days (1 Jan – 30 Jun)
    assert "SAIFI 0.6000" in body and "SAIDI 1.1000" in body
    # projected year-end SAIDI = 1.1 × 365 / 181 = 2.21823… h
    assert f"{1.1 * 365 / 181:.3f}" == "2.218" and ">2.218<" in body
    assert 'id="chart-saidi"' in body and "reliability-chart" in body


def test_bad_filters_answer_400_and_other_units_404(history, login):
    w = history.world
    c = login(w.a_manager)
    assert c.get("/reliability/", {"year": "20x5"}).status_code == 400
    assert c.get("/reliability/", {"basis": "hv"}).status_code == 400
    assert c.get("/reliability/", {"unit": w.station_b.pk}).status_code == 404
    assert c.get("/reliability/", {"unit": "abc"}).status_code == 404
    assert c.get("/reliability/voltage/", {"month": "2025-13"}).status_code == 400
    assert c.get("/reliability/review/", {"month": "2025-07"}).status_code == 400  # a month still to come
    assert login(w.portal_user).get("/reliability/").status_code == 404


def test_the_monthly_review_as_page_workbook_and_pdf(history, login):
    w = history.world
    c = login(w.a_manager)
    q = {"unit": w.station_a.pk, "month": "2025-03"}
    page = c.get("/reliability/review/", q).content.decode()
    assert "东关1号台区" in page  # the worst area of March
    r = c.get("/reliability/review.xlsx", q)
    assert r.status_code == 200 and r["Content-Disposition"].endswith('.xlsx"')
    wb = load_workbook(BytesIO(r.content))
    ws = wb["指标"]
    rows = {row[0]: row[1:] for row in ws.iter_rows(min_row=4, values_only=True) if row[0]}
    # March: SAIDI = 8 / 10 = 0.8 h; SAIFI 4 / 10 = 0.4 — year to date through March the same
    assert rows["SAIDI（小时/户）"][0] == pytest.approx(0.8) and rows["SAIFI"][0] == pytest.approx(0.4)
    areas = list(wb["停电最多的台区"].iter_rows(min_row=2, values_only=True))
    assert areas == [("T1", "东关1号台区", 4, 8.0)]
    pdf = c.get("/reliability/review.pdf", q)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_frequent_outage_page_lists_three_in_sixty_one_days(history, login):
    grid = history
    fault(grid, 3, grid.t3, datetime(2025, 6, 1, 10, tzinfo=CN), 1)
    fault(grid, 4, grid.t3, datetime(2025, 6, 20, 10, tzinfo=CN), 1)
    # T3's two accounts: 2 May, 1 June, 20 June → 49 days from first to third → listed
    body = login(grid.world.a_manager).get("/reliability/frequent/").content.decode()
    for acct in grid.accounts["T3"]:
        assert f'data-testid="frequent-{acct.account_number}"' in body
    for acct in grid.accounts["T1"]:
        assert acct.account_number not in body


def test_a_manager_sets_the_targets_and_the_budget_others_only_read_them(history, login):
    from decimal import Decimal

    from gridcare.core.models import AuditEvent
    from gridcare.outages.models import PlannedBudget, ReliabilityTarget

    w = history.world
    url = f"/reliability/targets/?unit={w.station_a.pk}&year=2025"
    page = login(w.a_agent).get(url).content.decode()
    assert "默认值" in page and 'name="all-saidi_hours_max"' not in page  # an agent reads the defaults
    assert login(w.a_agent).post(url, {"all-saidi_hours_max": "9"}).status_code == 404
    m = login(w.a_manager)
    r = m.post(url, {"all-saidi_hours_max": "12.5", "rural-rs1_percent_min": "99.85", "budget": "1000"})
    assert r.status_code == 200 and 'data-testid="targets-saved"' in r.content.decode()
    t = ReliabilityTarget.objects.get(unit=w.station_a, year=2025, area_group="all", basis="lv")
    assert t.saidi_hours_max == Decimal("12.5")
    assert ReliabilityTarget.objects.get(area_group="rural").rs1_percent_min == Decimal("99.85")
    # used = the two restored faults are not planned works: 0 customer-hours of the budget
    assert PlannedBudget.objects.get(unit=w.station_a, year=2025).customer_hours == Decimal("1000.00")
    assert AuditEvent.objects.filter(action="reliability.target").count() == 2
    # a bad value: the page says so, and nothing of the form is written
    r = m.post(url, {"all-saidi_hours_max": "-1", "budget": "2000"})
    assert r.status_code == 400 and 'data-testid="targets-errors"' in r.content.decode()
    assert PlannedBudget.objects.get(unit=w.station_a, year=2025).customer_hours == Decimal("1000.00")
    assert ReliabilityTarget.objects.get(area_group="all").saidi_hours_max == Decimal("12.5")
    # the report reads the new target: SAIDI max 12.5 shown for the whole area group
    body = m.get("/reliability/", {"unit": w.station_a.pk, "year": 2025}).content.decode()
    assert "12.5" in body
