"""Every payment has a receipt in the portal too (issue 10 §3 "Every payment must have a receipt"): the
customer opens 缴费凭证 of any payment of a bound account, whatever the channel; nobody else can."""

from datetime import date

import pytest
from django.utils import timezone

from gridcare.customers.models import PortalBinding
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

HISTORY = "/portal/accounts/3100000001/payments/"


def receipt_url(payment_id: int, account_number: str = "3100000001") -> str:
    return f"/portal/accounts/{account_number}/payments/{payment_id}/receipt/"


@pytest.fixture
def bound(world):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return world.portal_user


@pytest.mark.parametrize("channel", ["bank", "counter_cash", "terminal", "alipay"])
def test_the_customer_opens_the_receipt_of_a_payment_of_any_channel(world, bound, login, channel):
    issued_bill(world.acct_a, "2026-08", "1234.50", date(2099, 9, 20))
    rec = pay("1234.50", date(2026, 9, 1), f"R-{channel}", channel=channel)
    client = login(bound)
    history = client.get(HISTORY).content.decode()
    assert f'href="{receipt_url(rec.payment.pk)}"' in history  # a link for every payment, not just orders
    page = client.get(receipt_url(rec.payment.pk))
    assert page.status_code == 200
    text = page.content.decode()
    # 1,234.50 in capitals, written out: 壹仟 贰佰 叁拾 肆 元 伍角 (no fen).
    assert "壹仟贰佰叁拾肆元伍角" in text and "1,234.50" in text
    assert "2026-08" in text  # the bill it paid


def test_nobody_else_opens_it(world, bound, login):
    issued_bill(world.acct_a, "2026-08", "50.00", date(2099, 9, 20))
    rec = pay("50.00", date(2026, 9, 1), "R-1")
    other = UserFactory(username="13711112222", role="customer", unit=None, phone="13711112222")
    assert login(other).get(receipt_url(rec.payment.pk)).status_code == 404
    # A payment of another account through one's own bound 户号 in the address: 404 as well.
    issued_bill(world.acct_b, "2026-08", "60.00", date(2099, 9, 20))
    rec_b = pay("60.00", date(2026, 9, 1), "R-2", account_number="3200000001")
    assert login(bound).get(receipt_url(rec_b.payment.pk)).status_code == 404
    # Staff do not use portal pages; anonymous visitors go to the login page.
    assert login(world.a_clerk).get(receipt_url(rec.payment.pk)).status_code == 404
    assert login().get(receipt_url(rec.payment.pk)).status_code == 302
