"""The portal tells the truth about money: per bound account, what is due, the late fee, the due date and the
state (arrears, disconnection notice, disconnected); each bill's payment status; the payment history.

张三's account 3100000001 is residential: late fee 0.1 % per day after the due date. Every case below is a
bill not yet due or one at least 10 days late on a large bill, so the fee is the same under the 1.00 minimum
on the first charge and under the minimum on the bill's total. The portal's "today" is fixed per test
(`portal.selectors.today`), and amounts are computed by hand in each test.
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.models import PortalBinding
from gridcare.payments.collections.services import collection_task_done, collections_run
from gridcare.payments.models import CollectionTask
from gridcare.portal import selectors
from gridcare.portal.choices import AccountMoneyState as S
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

D = Decimal
HOME = "/portal/"
LIST = "/portal/accounts/"
DETAIL = "/portal/accounts/3100000001/"
HISTORY = "/portal/accounts/3100000001/payments/"


@pytest.fixture
def bound(world):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return world.portal_user


@pytest.fixture
def on(monkeypatch):
    """`on(date)`: the day the portal takes as today."""

    def set_day(day: date) -> None:
        monkeypatch.setattr(selectors, "today", lambda: day, raising=False)

    return set_day


def text_of(page: str, testid: str) -> str:
    """The text of the element carrying data-testid (the first one), tags stripped."""
    import re

    m = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</', page, re.S)
    assert m, f"no element {testid}"
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def disconnection_case(world):
    """942.76 owed on the August bill, due 20 September; the disconnection notice on 20 October (30 days
    late), the task on the planned day 27 October."""
    issued_bill(world.acct_a, "2026-08", "942.76", date(2026, 9, 20))
    collections_run(today=date(2026, 10, 20), actor=Actor())
    collections_run(today=date(2026, 10, 27), actor=Actor())
    return CollectionTask.objects.get(account=world.acct_a, kind="disconnect")


# ---------------------------------------------------------------- the defect: 942.76 owed showed 正常


@pytest.mark.parametrize("url", [HOME, LIST, DETAIL])
def test_an_account_in_arrears_with_a_disconnection_task_shows_what_is_due(world, bound, login, on, url):
    disconnection_case(world)
    on(date(2026, 10, 30))
    page = login(bound).get(url).content.decode()
    # 40 days late on 30 October (21–30 September: 10, 1–30 October: 30):
    # 942.76 × 0.001 × 40 = 37.7104 → 37.71; due 942.76 + 37.71 = 980.47.
    assert text_of(page, "amount-due-3100000001") == "980.47"
    assert text_of(page, "principal-3100000001") == "942.76"
    assert text_of(page, "late-fee-3100000001") == "37.71"
    assert text_of(page, "due-date-3100000001") == "2026-09-20"
    assert text_of(page, "overdue-3100000001") == "已逾期 40 天"
    assert text_of(page, "state-3100000001") == "停电通知"
    # Residential: the notice of 20 October plans the disconnection 7 days later.
    assert "计划停电日期 2026-10-27" in text_of(page, "notice-3100000001")
    assert ">正常<" not in page


def test_disconnected_and_then_paid_awaiting_reconnection(world, bound, login, on):
    task = disconnection_case(world)
    done = timezone.make_aware(datetime(2026, 10, 28, 10))  # noqa: DTZ001
    collection_task_done(actor=Actor(user=world.admin), task=task, done_at=done, now=done)
    on(date(2026, 10, 30))
    page = login(bound).get(HOME).content.decode()
    assert text_of(page, "state-3100000001") == "已停电"
    assert text_of(page, "amount-due-3100000001") == "980.47"
    # Paid in full on 30 October: 942.76 + 37.71 = 980.47; the reconnection is pending.
    pay("980.47", date(2026, 10, 30), "R1")
    page = login(bound).get(HOME).content.decode()
    assert text_of(page, "state-3100000001") == "已缴清待复电"
    assert text_of(page, "balance-3100000001") == "0.00"
    assert 'data-testid="amount-due-3100000001"' not in page


def test_arrears_without_a_notice(world, bound, login, on):
    issued_bill(world.acct_a, "2026-09", "500.00", date(2026, 10, 20))
    on(date(2026, 10, 30))
    page = login(bound).get(LIST).content.decode()
    # 10 days late: 500 × 0.001 × 10 = 5.00; due 505.00.
    assert text_of(page, "state-3100000001") == "欠费"
    assert text_of(page, "amount-due-3100000001") == "505.00"
    assert text_of(page, "late-fee-3100000001") == "5.00"
    assert text_of(page, "due-date-3100000001") == "2026-10-20"


def test_a_bill_not_yet_due_is_due_without_late_fee(world, bound, login, on):
    issued_bill(world.acct_a, "2026-11", "1295.11", date(2026, 12, 20))
    on(date(2026, 12, 7))
    page = login(bound).get(HOME).content.decode()
    assert text_of(page, "state-3100000001") == "待缴费"
    assert text_of(page, "amount-due-3100000001") == "1,295.11"  # thousands separator
    assert text_of(page, "late-fee-3100000001") == "0.00"
    assert text_of(page, "due-date-3100000001") == "2026-12-20"
    assert 'data-testid="overdue-3100000001"' not in page
    assert 'href="/portal/pay/3100000001/"' in page


def test_nothing_owed_shows_the_credit_balance(world, bound, login, on):
    issued_bill(world.acct_a, "2026-11", "80.00", date(2026, 12, 20))
    pay("100.00", date(2026, 12, 1), "T1")  # 80.00 pays the bill, 20.00 stays as credit
    on(date(2026, 12, 7))
    page = login(bound).get(HOME).content.decode()
    assert text_of(page, "state-3100000001") == "正常"
    assert text_of(page, "balance-3100000001") == "20.00"


def test_money_state_most_serious_first():
    due, none = D("10.00"), D("0.00")
    assert selectors.money_state(amount_due=due, overdue=True, case_status="disconnected") == S.DISCONNECTED
    assert selectors.money_state(amount_due=none, overdue=False, case_status="reconnecting") == S.RECONNECTING
    assert selectors.money_state(amount_due=due, overdue=True, case_status="pending") == S.DISCONNECT_NOTICE
    assert selectors.money_state(amount_due=due, overdue=True, case_status="ordered") == S.DISCONNECT_NOTICE
    assert selectors.money_state(amount_due=due, overdue=True, case_status=None) == S.ARREARS
    assert selectors.money_state(amount_due=due, overdue=False, case_status=None) == S.DUE
    assert selectors.money_state(amount_due=none, overdue=False, case_status=None) == S.CLEAR


def test_home_for_visitors_has_no_accounts(client, world):
    page = client.get(HOME).content.decode()
    assert 'href="/portal/login/"' in page and 'data-testid="home-account-' not in page


def test_home_shows_only_the_users_accounts(world, bound, login, on):
    issued_bill(world.acct_b, "2026-09", "500.00", date(2026, 10, 20))
    on(date(2026, 10, 30))
    page = login(bound).get(HOME).content.decode()
    assert 'data-testid="home-account-3100000001"' in page
    assert "3200000001" not in page and "505.00" not in page


# ---------------------------------------------------------------- bills: paid, partly paid, unpaid


@pytest.fixture
def three_bills(world):
    """September paid in full, October partly paid (15 days late on 5 December), November unpaid (not due)."""
    sep = issued_bill(world.acct_a, "2026-09", "120.00", date(2026, 10, 20))
    pay("120.00", date(2026, 10, 10), "P1")
    octo = issued_bill(world.acct_a, "2026-10", "300.00", date(2026, 11, 20))
    pay("100.00", date(2026, 11, 10), "P2")
    nov = issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20))
    return sep, octo, nov


def test_the_bill_list_shows_each_bills_payment_status(world, bound, login, on, three_bills):
    on(date(2026, 12, 5))
    page = login(bound).get(DETAIL).content.decode()
    assert text_of(page, "bill-status-2026-09") == "已缴清"
    assert text_of(page, "bill-status-2026-10") == "部分缴费"
    assert text_of(page, "bill-status-2026-11") == "未缴"
    # October: 100.00 of 300.00 paid; the 200.00 left is 15 days late on 5 December (21–30 November: 10,
    # 1–5 December: 5): 200 × 0.001 × 15 = 3.00, so 203.00 is owed on it.
    assert "已缴 100.00，尚欠 203.00" in page


def test_bill_status_rules():
    f = selectors.bill_payment_status
    assert f(principal=D("100"), principal_paid=D("100"), fee_paid=D("0"), fee_due=D("0")) == "paid"
    # Principal paid, a charged late fee still unpaid: partly paid.
    assert f(principal=D("100"), principal_paid=D("100"), fee_paid=D("0"), fee_due=D("1.00")) == "partly_paid"
    assert f(principal=D("100"), principal_paid=D("0.01"), fee_paid=D("0"), fee_due=D("0")) == "partly_paid"
    assert f(principal=D("100"), principal_paid=D("0"), fee_paid=D("2.00"), fee_due=D("0")) == "partly_paid"
    assert f(principal=D("100"), principal_paid=D("0"), fee_paid=D("0"), fee_due=D("0")) == "unpaid"


def test_a_reversed_payment_makes_the_bill_unpaid_again(world, bound, login, on):
    from gridcare.payments.ledger.services import payment_reverse

    issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20))
    rec = pay("95.11", date(2026, 12, 1), "P1")
    on(date(2026, 12, 5))
    assert text_of(login(bound).get(DETAIL).content.decode(), "bill-status-2026-11") == "已缴清"
    payment_reverse(actor=Actor(user=world.admin), payment=rec.payment, reason="银行退票")
    assert text_of(login(bound).get(DETAIL).content.decode(), "bill-status-2026-11") == "未缴"


def test_detail_query_count_is_fixed(world, bound, login, on, three_bills, django_assert_max_num_queries):
    on(date(2026, 12, 5))
    c = login(bound)
    c.get(DETAIL)
    with django_assert_max_num_queries(16):
        assert c.get(DETAIL).status_code == 200


# ---------------------------------------------------------------- payment history


def test_payment_history_lists_payments_and_the_bills_they_paid(world, bound, login, on, three_bills):
    on(date(2026, 12, 5))
    page = login(bound).get(HISTORY).content.decode()
    assert page.index("2026-11-10") < page.index("2026-10-10")  # newest first
    assert "100.00" in page and "120.00" in page
    assert "柜台现金" in page
    assert "2026-10 账单" in page and "2026-09 账单" in page
    assert "电费 100.00 元" in page and "电费 120.00 元" in page


def test_payment_history_pages_twenty_at_a_time(world, bound, login, on):
    issued_bill(world.acct_a, "2026-11", "95.11", date(2026, 12, 20))
    for i in range(21):
        pay("1.00", date(2026, 11, 1 + i), f"S{i}")
    on(date(2026, 12, 5))
    c = login(bound)
    first = c.get(HISTORY).content.decode()
    assert first.count('data-testid="payment-amount-') == 20 and "第 1 / 2 页" in first
    second = c.get(HISTORY + "?page=2").content.decode()
    assert second.count('data-testid="payment-amount-') == 1 and "2026-11-01" in second
    # Nonsense page numbers fall back to a real page instead of an error.
    assert c.get(HISTORY + "?page=abc").status_code == 200
    assert c.get(HISTORY + "?page=99").status_code == 200


def test_payment_history_is_empty_before_any_payment(world, bound, login, on):
    on(date(2026, 12, 5))
    page = login(bound).get(HISTORY).content.decode()
    assert 'data-testid="no-payments"' in page


# ---------------------------------------------------------------- who may see these pages


PAGES = [HISTORY, "/portal/accounts/3100000001/usage/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_go_to_the_login(client, world, url):
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith("/portal/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_another_customer_gets_404_like_an_unknown_account(world, bound, login, url):
    other = UserFactory(username="13600000009", role="customer", unit=None)
    PortalBinding.objects.create(user=other, account=world.acct_b, created_at=timezone.now())
    c = login(other)
    unknown = c.get(url.replace("3100000001", "9999999999"))
    assert c.get(url).status_code == unknown.status_code == 404
    assert c.get(url).content == unknown.content


@pytest.mark.parametrize("who", ["a_clerk", "admin", "a_manager"])
@pytest.mark.parametrize("url", PAGES)
def test_staff_get_404(world, bound, login, who, url):
    assert login(getattr(world, who)).get(url).status_code == 404


def test_the_pages_render_in_english_too(world, bound, login, on, three_bills):
    # The translations live in i18n/portal.po until merged: this checks the pages render (plural forms and
    # placeholders included) in the other language, not the wording.
    from django.conf import settings

    on(date(2026, 12, 5))
    c = login(bound)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for url in (HOME, LIST, DETAIL, HISTORY, "/portal/accounts/3100000001/usage/"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert 'lang="en"' in r.content.decode(), url
