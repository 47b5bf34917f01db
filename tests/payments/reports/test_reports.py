"""Collection rate, arrears ageing and channel mix, hand-computed from a small set of bills and payments."""

from datetime import date
from decimal import Decimal

import pytest

from gridcare.payments.reports import selectors as reports
from tests.payments.ledger.test_ledger import issued_bill, pay

API = "/api/v1"


@pytest.fixture
def book(world):
    a = world.acct_a
    issued_bill(a, "2025-08", "50.00", date(2025, 9, 20))  # 400+ days overdue on 2026-11-01
    issued_bill(a, "2026-06", "60.00", date(2026, 7, 20))  # 104 days
    issued_bill(a, "2026-08", "70.00", date(2026, 9, 20))  # 42 days
    issued_bill(a, "2026-09", "80.00", date(2026, 10, 20))  # 12 days
    issued_bill(world.acct_b, "2026-09", "90.00", date(2026, 10, 20))  # bureau B
    # 10 Oct 2026 pays the oldest bill exactly: 2025-08 is 385 days late (20 Sep 2025 → 10 Oct 2026),
    # residential 50 × 0.001 × 385 = 19.25 fee, then its 50.00 → 69.25
    pay("69.25", date(2026, 10, 10), "T1")
    pay("40.00", date(2026, 10, 15), "T2", account_number="3200000001", channel="wechat")


def test_arrears_ageing(world, book):
    rows = {r["bucket"]: r for r in reports.arrears_ageing(user=world.admin, as_of=date(2026, 11, 1))}
    # As of 1 Nov 2026 (A's 2025-08 bill is settled):
    # 0–30: A's 2026-09 (80.00, 12 days) and B's 2026-09 (90.00 − 40.00 paid on 15 Oct = 50.00) → 130.00
    assert rows["0-30"] == {"bucket": "0-30", "amount": Decimal("130.00"), "bills": 2}
    assert rows["31-90"] == {"bucket": "31-90", "amount": Decimal("70.00"), "bills": 1}
    assert rows["91-365"] == {"bucket": "91-365", "amount": Decimal("60.00"), "bills": 1}
    assert rows["365+"] == {"bucket": "365+", "amount": Decimal("0.00"), "bills": 0}
    # Bureau A's manager sees only A: B's 50.00 leaves the 0–30 bucket
    a_rows = {r["bucket"]: r for r in reports.arrears_ageing(user=world.a_manager, as_of=date(2026, 11, 1))}
    assert a_rows["0-30"]["amount"] == Decimal("80.00")


def test_collection_rate_and_channel_mix(world, book, login):
    rows = login(world.admin).get(f"{API}/reports/collection-rate?period=2026-09").json()
    # A's 2026-09 bill: 0 of 80.00 collected; B's: 40.00 of 90.00 → 44.44 %
    assert [(r["unit_name"], r["billed"], r["collected"], r["rate_percent"]) for r in rows] == sorted(
        [(world.station_a.name, "80.00", "0.00", "0.00"), (world.station_b.name, "90.00", "40.00", "44.44")]
    )
    mix = login(world.admin).get(f"{API}/reports/channel-mix?date_from=2026-10-01&date_to=2026-10-31").json()
    assert mix == [
        {"channel": "counter_cash", "payments": 1, "amount": "69.25"},
        {"channel": "wechat", "payments": 1, "amount": "40.00"},
    ]
    assert login(world.a_agent).get(f"{API}/reports/arrears-ageing").status_code == 403
    bad = login(world.admin).get(f"{API}/reports/channel-mix?date_from=2026-10-31&date_to=2026-10-01")
    assert bad.status_code == 422
    assert login(world.admin).get(f"{API}/reports/collection-rate?period=2026-13").status_code == 422
