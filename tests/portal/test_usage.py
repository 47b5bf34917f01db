"""Usage analysis (用电分析): two years of monthly kWh from the issued bills, the TOU split, and the change on the
same month a year earlier, with every percentage computed by hand."""

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from gridcare.billing.usage import add_months, monthly_usage, yoy_percent
from gridcare.customers.models import PortalBinding

D = Decimal
URL = "/portal/accounts/3100000001/usage/"


def bill(account, period: str, kwh: str, *, tou=None, status=BillStatus.ISSUED, estimated=False) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    split = {f"kwh_{k}": D(v) for k, v in (tou or {}).items()}
    return Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=date(y, m, 1),
        period_end=date(y, m, 28),
        tariff_code="RES-TIER-TOU" if tou else "RES-TIER",
        kwh_total=D(kwh),
        amount=D(kwh) * D("0.5"),
        status=status,
        estimated=estimated,
        due_date=date(y, m, 28),
        issued_at=timezone.now(),
        created_at=timezone.now(),
        **split,
    )


@pytest.fixture
def customer(world, login):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return login(world.portal_user)


@pytest.mark.parametrize(
    ("current", "previous", "percent"),
    [
        ("120", "100", "20.0"),  # (120 − 100) ÷ 100 × 100
        ("90", "120", "-25.0"),  # (90 − 120) ÷ 120 × 100
        ("100", "30", "233.3"),  # 70 ÷ 30 × 100 = 233.33…
        ("2", "3", "-33.3"),  # −1 ÷ 3 × 100 = −33.33…
        ("100.05", "100", "0.1"),  # 0.05 % exactly: half-up, not to even
        ("99.95", "100", "-0.1"),  # −0.05 %: half away from zero
        ("0", "80", "-100.0"),
    ],
)
def test_year_on_year_percent(current, previous, percent):
    assert yoy_percent(D(current), D(previous)) == D(percent)


def test_no_percentage_without_a_comparable_month():
    assert yoy_percent(D("100"), None) is None
    assert yoy_percent(None, D("100")) is None
    assert yoy_percent(D("100"), D("0")) is None  # no percentage of nothing


def test_add_months_across_years():
    assert add_months(date(2026, 3, 15), -3) == date(2025, 12, 1)
    assert add_months(date(2026, 3, 1), -24) == date(2024, 3, 1)
    assert add_months(date(2025, 12, 31), 1) == date(2026, 1, 1)


def test_two_years_ending_with_the_latest_bill_compared_month_by_month(world):
    a = world.acct_a
    bill(a, "2025-01", "250")
    bill(a, "2025-02", "200")
    bill(a, "2025-03", "0")
    bill(a, "2026-01", "300", tou={"peak": "100", "flat": "120", "valley": "80"})
    bill(a, "2026-02", "180", tou={"peak": "60", "flat": "70", "valley": "50"}, estimated=True)
    bill(a, "2026-03", "210", tou={"peak": "70", "flat": "80", "valley": "60"})
    # Not counted: a draft, a cancelled bill, another account's bill, a bill 3 years before the latest.
    bill(a, "2026-04", "999", status=BillStatus.DRAFT)
    bill(a, "2025-06", "999", status=BillStatus.CANCELLED)
    bill(world.acct_b, "2026-03", "999")
    bill(a, "2023-03", "999")

    usage = monthly_usage(a)

    months = usage["months"]
    # 24 months, oldest first: April 2024 … March 2026.
    assert [m.period for m in months][:2] == ["2024-04", "2024-05"] and months[-1].period == "2026-03"
    assert len(months) == 24 and usage["latest"] == "2026-03"
    by = {m.period: m for m in months}
    # January: 300 against 250 → (300 − 250) ÷ 250 × 100 = 20.0 %
    assert (by["2026-01"].kwh, by["2026-01"].last_year_kwh, by["2026-01"].yoy) == (D(300), D(250), D("20.0"))
    assert by["2026-01"].tou == {"peak": D(100), "flat": D(120), "valley": D(80)}
    # February: 180 against 200 → −20 ÷ 200 × 100 = −10.0 %
    assert (by["2026-02"].yoy, by["2026-02"].estimated) == (D("-10.0"), True)
    # March: 210 against 0 kWh: no percentage.
    assert (by["2026-03"].last_year_kwh, by["2026-03"].yoy) == (D(0), None)
    # The 2025 months have no bill in 2024; June 2025's only bill was cancelled.
    assert by["2025-01"].yoy is None and by["2025-06"].kwh is None
    # 3 years before the latest is outside the window and compares nothing: 2024-03 is not shown.
    assert "2023-03" not in by and "2024-03" not in by
    # The latest 12 months (April 2025 – March 2026): 300 + 180 + 210 = 690; the 12 before: 250 + 200 + 0 = 450;
    # neither is a full year of bills, so no yearly percentage.
    assert (usage["recent_total"], usage["earlier_total"], usage["total_yoy"]) == (D(690), D(450), None)
    assert usage["has_tou"]


def test_the_chart_stacks_tou_and_shows_last_year_and_the_change(world):
    a = world.acct_a
    bill(a, "2025-01", "250")
    bill(a, "2026-01", "300", tou={"peak": "100", "flat": "120", "valley": "80"})
    chart = monthly_usage(a)["chart"]
    assert len(chart["months"]) == 24 and chart["months"][-1] == "2026-01"
    bars = {s["key"]: s["data"] for s in chart["bars"]}
    assert set(bars) == {"peak", "flat", "valley", "total"}  # no 尖峰 in these bills
    assert bars["peak"][-1] == 100.0 and bars["total"][-1] is None
    assert bars["total"][-13] == 250.0  # January 2025, without a TOU split
    assert chart["last_year"]["data"][-1] == 250.0 and chart["yoy"]["data"][-1] == 20.0


def test_a_full_two_years_gives_the_yearly_change(world):
    a = world.acct_a
    start = date(2024, 12, 1)
    for i in range(24):
        month = add_months(start, i)
        bill(a, f"{month:%Y-%m}", "100" if i < 12 else "110")
    usage = monthly_usage(a)
    # 12 × 110 = 1320 against 12 × 100 = 1200: 120 ÷ 1200 × 100 = 10.0 %
    assert (usage["recent_total"], usage["earlier_total"], usage["total_yoy"]) == (
        D(1320),
        D(1200),
        D("10.0"),
    )
    assert all(m.yoy == D("10.0") for m in usage["months"][12:])


def test_the_page(world, customer):
    a = world.acct_a
    bill(a, "2025-01", "250")
    bill(a, "2026-01", "300", tou={"peak": "100", "flat": "120", "valley": "80"})
    page = customer.get(URL).content.decode()
    assert "vendor/echarts/echarts.min.js" in page and "cdn" not in page.lower()
    row = re.search(r'<tr data-period="2026-01">(.*?)</tr>', page, re.S).group(1)
    assert 'data-col="kwh">300.00<' in row and 'data-col="last">250.00<' in row
    assert "+20.0%" in row and ">100.00<" in row  # 高峰
    data = json.loads(re.search(r'id="usage-analysis-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert data["months"][-1] == "2026-01"


def test_the_page_without_bills(world, customer):
    page = customer.get(URL).content.decode()
    assert 'data-testid="no-usage"' in page and "usage-analysis-chart" not in page


def test_query_count_does_not_grow_with_months(world, customer, django_assert_max_num_queries):
    for i in range(36):
        month = add_months(date(2023, 12, 1), i)
        bill(world.acct_a, f"{month:%Y-%m}", str(100 + i))
    customer.get(URL)
    # Session, user, the account with its service points and meters (three), the bills.
    with django_assert_max_num_queries(6):
        assert customer.get(URL).status_code == 200
