"""A prepaid (智能交费) account on the portal home and account list shows the estimated balance the public query,
the account page and the API show, not the ledger credit, and 余额不足 when that estimate is below the threshold.

The book is tests/payments/prepaid/test_prepaid.py's: 1008.00 prepaid on 1 May 2026, four bills (500.00, 90.00, 62.00,
56.00, the last ending 28 Aug) paid from it → ledger credit 1008 − 708 = 300.00. Daily cost (90 + 62 + 56) /
(30 + 31 + 28) days = 208 / 89 = 2.337… → 2.34. On 7 September, 10 days after 28 Aug: spend 2.34 × 10 = 23.40,
estimated balance 300.00 − 23.40 = 276.60."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.models import PortalBinding
from gridcare.payments.channels.public_pay import account_dues
from gridcare.payments.prepaid import services as prepaid
from gridcare.portal import selectors
from gridcare.portal.choices import AccountMoneyState as S
from tests.payments.ledger.test_ledger import pay
from tests.payments.prepaid.test_prepaid import four_bills

from .test_money import text_of

D = Decimal
SEPT_7 = date(2026, 9, 7)


@pytest.fixture
def bound(world):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return world.portal_user


@pytest.fixture
def on_sept_7(monkeypatch):
    monkeypatch.setattr(selectors, "today", lambda: SEPT_7)


def book(world, threshold: str):
    pay("1008.00", date(2026, 5, 1), "PRE-1")
    four_bills(world.acct_a)
    prepaid.prepaid_enrol(
        actor=Actor(user=world.a_clerk), account=world.acct_a, threshold=threshold, today=date(2026, 5, 1)
    )


@pytest.mark.parametrize("url", ["/portal/", "/portal/accounts/"])
def test_home_shows_the_estimated_balance_and_low_balance(world, bound, login, on_sept_7, url):
    book(world, threshold="280.00")  # 276.60 < 280.00 → low
    page = login(bound).get(url).content.decode()
    assert text_of(page, "state-3100000001") == "余额不足"
    assert text_of(page, "prepaid-balance-3100000001") == "276.60"
    assert 'data-testid="low-balance-3100000001"' in page
    assert 'data-testid="balance-3100000001"' not in page and "300.00" not in page  # not the ledger credit
    # the same figure as the public query
    assert account_dues(world.acct_a, SEPT_7).prepaid_balance == D("276.60")


def test_home_prepaid_above_threshold_is_normal(world, bound, login, on_sept_7):
    book(world, threshold="50.00")  # 276.60 ≥ 50.00
    page = login(bound).get("/portal/").content.decode()
    assert text_of(page, "state-3100000001") == "正常"
    assert text_of(page, "prepaid-balance-3100000001") == "276.60"
    assert 'data-testid="low-balance-3100000001"' not in page


def test_a_non_prepaid_account_still_shows_its_credit(world, bound, login, on_sept_7):
    pay("1008.00", date(2026, 5, 1), "PRE-1")
    four_bills(world.acct_a)  # not enrolled: the ledger credit 300.00 is what it has
    page = login(bound).get("/portal/").content.decode()
    assert text_of(page, "balance-3100000001") == "300.00"
    assert "prepaid-balance-3100000001" not in page


def test_low_balance_ranks_below_arrears_and_disconnection():
    due, none = D("10.00"), D("0.00")
    assert (
        selectors.money_state(amount_due=none, overdue=False, case_status=None, prepaid_low=True)
        == S.LOW_BALANCE
    )
    assert (
        selectors.money_state(amount_due=due, overdue=False, case_status=None, prepaid_low=True)
        == S.LOW_BALANCE
    )
    assert (
        selectors.money_state(amount_due=due, overdue=True, case_status=None, prepaid_low=True) == S.ARREARS
    )
    assert (
        selectors.money_state(amount_due=none, overdue=False, case_status="disconnected", prepaid_low=True)
        == S.DISCONNECTED
    )
