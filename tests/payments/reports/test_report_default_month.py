"""Collection reports (issue 10 §5): without a period they showed last month, whose bills are not due yet
(0.23 % collected). They now default to the last month whose due date has passed, on an injected today, and
say which month is shown; money has thousands separators.

Book, today pinned at 2026-12-10 (every payment before its bill's due date: no late fees):
- bureau A (station 东关供电所), account 3100000001:
  2026-09 bill 100.00 due 2026-10-20, paid 100.00 on 2026-10-10;
  2026-10 bill 2,080.00 due 2026-11-20, 520.00 paid on 2026-11-15 → 1,560.00 overdue;
  2026-11 bill 60.00 due 2026-12-20 (not yet due, nothing paid).
  Account 3100000009 (no bills): 25.00 paid on 2026-12-01 (credit) — this month's collections.
- bureau B (station 西关供电所), account 3200000001: 2026-10 bill 500.00 due 2026-11-20, unpaid. B's figures
  must never reach A's staff.
"""

from datetime import date

import pytest

from gridcare.payments.reports import selectors as reports
from gridcare.payments.reports import views as views_reports
from tests.factories import make_account
from tests.payments.ledger.test_ledger import issued_bill, pay

TODAY = date(2026, 12, 10)
URL = "/payments/reports/"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(views_reports, "local_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def book(world):
    issued_bill(world.acct_a, "2026-09", "100.00", date(2026, 10, 20))
    issued_bill(world.acct_a, "2026-10", "2080.00", date(2026, 11, 20))
    issued_bill(world.acct_a, "2026-11", "60.00", date(2026, 12, 20))
    pay("100.00", date(2026, 10, 10), "A-1")
    pay("520.00", date(2026, 11, 15), "A-2")
    world.acct_a9 = make_account(world.cust_a, "3100000009", world.area_a, address="东关镇人民路20号")
    pay("25.00", date(2026, 12, 1), "A-9", account_number="3100000009")
    issued_bill(world.acct_b, "2026-10", "500.00", date(2026, 11, 20))
    return world


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 10), "2026-10"),  # November's bills are due 20 Dec: not yet
        (date(2026, 12, 20), "2026-10"),  # the due date itself is still payable without a fee
        (date(2026, 12, 21), "2026-11"),  # the day after: November is past due
        (date(2026, 11, 20), "2026-09"),
    ],
)
def test_last_due_period(book, today, expected):
    assert reports.last_due_period(user=book.a_manager, today=today) == expected


def test_last_due_period_without_bills_is_the_month_before_last(world):
    assert reports.last_due_period(user=world.a_manager, today=date(2027, 1, 1)) == "2026-11"
    assert reports.last_due_period(user=world.a_manager, today=date(2026, 3, 31)) == "2026-01"


def test_page_defaults_to_the_last_month_past_due_and_says_so(book, login, today):
    resp = login(book.a_manager).get(URL)
    assert resp.status_code == 200
    body = resp.content.decode()
    assert resp.context["filters"]["period"] == "2026-10"
    assert 'data-testid="period-note"' in body and "显示 2026-10 电费（已过缴费期限）" in body
    rate = body.split('data-testid="table-collection-rate"')[1].split("</table>")[0]
    # 2026-10 in bureau A: 520.00 collected of 2,080.00 billed = 25.00 %
    assert "2,080.00" in rate and "520.00" in rate and "25.00%" in rate
    assert "西关供电所" not in rate  # bureau B stays out of A's manager's report


def test_a_month_not_yet_due_is_said_to_be(book, login, today):
    body = login(book.a_manager).get(URL + "?period=2026-11").content.decode()
    assert "显示 2026-11 电费（缴费期限 2026-12-20 未到，回收率仍会上升）" in body
    body = login(book.a_manager).get(URL + "?period=2025-01").content.decode()
    assert "显示 2025-01 电费（该月没有账单）" in body


def test_money_has_thousands_separators(book, login, today):
    body = login(book.a_manager).get(URL + "?as_of=2026-12-10").content.decode()
    ageing = body.split('data-testid="table-arrears-ageing"')[1].split("</table>")[0]
    # overdue principal on 10 Dec: 2,080.00 − 520.00 = 1,560.00 (20 days: the 0–30 bucket)
    assert "1,560.00" in ageing and "1560.00" not in ageing


def test_export_uses_the_same_default(book, login, today):
    import io

    from openpyxl import load_workbook

    resp = login(book.a_manager).get(URL + "collection-rate/export.xlsx")
    ws = load_workbook(io.BytesIO(resp.content)).active
    assert ws["A2"].value == "筛选条件：账期：2026-10"
