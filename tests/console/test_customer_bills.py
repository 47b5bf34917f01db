"""Bills on the console customer 360° page: per account the last 13 bills that are not drafts, linked to the
electronic bill, only bills of units the user may see, in a constant number of queries."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from tests.factories import CustomerFactory, make_account

D = Decimal


def month(n: int) -> date:
    """Month n counted from 2025-08 (n = 0)."""
    return date(2025 + (7 + n) // 12, (7 + n) % 12 + 1, 1)


def bill(account, period_start: date, kwh: str, amount: str, status=BillStatus.ISSUED, **extra) -> Bill:
    end = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=period_start,
        period_end=end,
        tariff_code="RES-TIER",
        kwh_total=D(kwh),
        amount=D(amount),
        status=status,
        created_at=timezone.now(),
        **extra,
    )


def page(client, customer) -> str:
    resp = client.get(f"/customers/{customer.pk}/")
    assert resp.status_code == 200
    return resp.content.decode()


def bill_links(body: str, account_number: str) -> list[int]:
    """The bill ids linked in an account's bills table, in page order."""
    table = re.search(rf'<table data-testid="bills-{account_number}">(.*?)</table>', body, re.S)
    return [int(pk) for pk in re.findall(r'<a href="/billing/bills/(\d+)/">', table[1])] if table else []


@pytest.fixture
def bills(world):
    """3100000001: issued bills 2025-08 … 2026-10 (15 months, 100 + n kWh at 0.538), September 2026
    cancelled and re-billed, a November 2026 draft; plus bills of other accounts."""
    a = world.acct_a
    made = {
        n: bill(a, month(n), f"{100 + n}", str((D(100 + n) * D("0.538")).quantize(D("0.01"))))
        for n in range(15)
    }
    made[14].due_date = date(2026, 11, 20)
    made[14].estimated = True
    made[14].save()
    # September 2026 (n = 13): the first bill was cancelled, the issued one above is its correction.
    cancelled = bill(a, month(13), "999", "537.46", BillStatus.CANCELLED, cancel_reason="抄表错误")
    Bill.objects.filter(pk=made[13].pk).update(corrects=cancelled)
    draft = bill(a, date(2026, 11, 1), "50", "26.90", BillStatus.DRAFT)
    # Another account of 张三, supplied by station B (bureau B): its bills are bureau B's.
    other_unit = make_account(world.cust_a, "3200000009", world.area_b, address="西关镇新街9号")
    b_bill = bill(other_unit, month(14), "80", "43.04")
    # Another customer's bill.
    bill(world.acct_b, month(14), "70", "37.66")
    return {"made": made, "cancelled": cancelled, "draft": draft, "b_bill": b_bill}


def test_last_13_bills_that_are_not_drafts_newest_first(world, bills, login):
    body = page(login(world.a_clerk), world.cust_a)
    made, cancelled = bills["made"], bills["cancelled"]
    # Newest first: 2026-10, then September's two (the cancelled one made later, so the higher id first),
    # then 2026-08 back to 2025-11 — 13 rows; 2025-08 … 2025-10 fall off and the November draft is not shown.
    expected = [made[14].pk, cancelled.pk, made[13].pk, *(made[n].pk for n in range(12, 2, -1))]
    assert len(expected) == 13
    assert bill_links(body, "3100000001") == expected
    assert bills["draft"].pk not in bill_links(body, "3100000001")
    row = re.search(rf'<tr data-bill="{made[14].pk}">(.*?)</tr>', body, re.S)[1]
    # 2026-10: 114 kWh × 0.538 = 61.332 → 61.33, estimated, due 2026-11-20, issued.
    assert ">2026-10</a>" in row and '<span class="tag">估算</span>' in row
    assert (
        "<td>114.00</td>" in row
        and "<td>61.33</td>" in row
        and "<td>已发行</td>" in row
        and "<td>2026-11-20</td>" in row
    )
    row = re.search(rf'<tr data-bill="{cancelled.pk}">(.*?)</tr>', body, re.S)[1]
    assert (
        ">2026-09</a>" in row
        and "<td>537.46</td>" in row
        and "<td>已作废</td>" in row
        and "<td>—</td>" in row
    )
    assert "估算" not in row


def test_other_units_bills_are_not_shown(world, bills, login):
    # A counter clerk of bureau A sees 张三's station-B account, but not its bills (bureau B's).
    body = page(login(world.a_clerk), world.cust_a)
    assert 'data-testid="account-3200000009"' in body
    assert bill_links(body, "3200000009") == [] and f"/billing/bills/{bills['b_bill'].pk}/" not in body
    # The company admin sees both; no page shows another customer's bills.
    body = page(login(world.admin), world.cust_a)
    assert bill_links(body, "3200000009") == [bills["b_bill"].pk]
    assert len(bill_links(body, "3100000001")) == 13
    assert "3200000001" not in body
    # Bureau B's clerk does not get 张三's page at all.
    assert login(world.b_clerk).get(f"/customers/{world.cust_a.pk}/").status_code == 404


def test_links_open_the_bills(world, bills, login):
    c = login(world.a_agent)
    pk = bill_links(page(c, world.cust_a), "3100000001")[0]
    assert c.get(f"/billing/bills/{pk}/").status_code == 200


def test_account_without_bills(world, login):
    body = page(login(world.a_clerk), world.cust_a)
    assert '<p class="muted" data-testid="bills-3100000001">暂无已发行的账单</p>' in body


def test_query_count_does_not_grow_with_accounts_and_bills(world, login, django_assert_max_num_queries):
    c = login(world.a_clerk)
    customer = CustomerFactory(name="赵六", unit=world.station_a)
    make_account(customer, "3100000050", world.area_a)
    with CaptureQueriesContext(connection) as few:
        page(c, customer)
    for n in range(51, 56):
        acct = make_account(customer, f"31000000{n}", world.area_a)
        for m in range(15):
            bill(acct, month(m), "100", "53.80")
    with django_assert_max_num_queries(len(few)):  # 6 accounts × 15 bills: not one query more than 1 × 0
        body = page(c, customer)
    assert all(len(bill_links(body, f"31000000{n}")) == 13 for n in range(51, 56))
    # session, user, units, customer, accounts and prefetches, bills, the dunning cases, the notices card,
    # and the money summary at the top (amounts due, arrears, last payments, open cases, open tasks), and the credit
    # standing (issue 17: one query for a customer not yet rated)
    with django_assert_max_num_queries(22):
        page(c, customer)
