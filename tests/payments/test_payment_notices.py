"""The payments app's notices go through the notification outbox: a receipt per payment (once, even for a
repeated notification), dunning notices with their figures, a refund notice on approval, a prepaid
low-balance alert; a payment that is refused writes no notice."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.notify.models import Notification, PendingNotice
from gridcare.payments.collections.services import collections_run
from gridcare.payments.ledger import refunds
from gridcare.payments.models import DunningNotice
from gridcare.payments.notices import render_pending_receipts
from gridcare.payments.prepaid import services as prepaid
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay
from tests.payments.prepaid.test_prepaid import four_bills

D = Decimal


def sms(kind):
    return list(Notification.objects.filter(kind=kind, channel="sms").order_by("id"))


def test_a_payment_sends_one_receipt_even_when_repeated(world):
    issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))
    first = pay("80.00", date(2026, 10, 10), "R-1")
    again = pay("80.00", date(2026, 10, 10), "R-1")
    assert first.created and not again.created
    # The payment wrote one pending receipt (not rendered on the payment's path); the render job fans it out
    assert PendingNotice.objects.filter(dedupe_key=f"receipt:{first.payment.pk}").count() == 1
    assert sms("payment_receipt") == []
    assert render_pending_receipts() == 1
    assert render_pending_receipts() == 0  # rendered once, and the pending row is gone
    assert not PendingNotice.objects.exists()
    [n] = sms("payment_receipt")
    assert n.customer_id == world.cust_a.pk and n.account_id == world.acct_a.pk
    assert n.dedupe_key.startswith(f"receipt:{first.payment.pk}")
    assert "80.00元" in n.body and "0001" in n.body  # amount with two decimals, account masked to its tail
    # A refused payment (amount 0) writes no notice
    with pytest.raises(ValidationError):
        pay("0", date(2026, 10, 11), "R-2")
    assert not PendingNotice.objects.exists()
    render_pending_receipts()
    assert len(sms("payment_receipt")) == 1


def test_dunning_notices_reach_the_outbox_with_their_figures(world, django_capture_on_commit_callbacks):
    # Bill of 120.00 due 20 Oct; reminder 3 days before: 17 Oct
    issued_bill(world.acct_a, "2026-09", "120.00", date(2026, 10, 20), issued_on=date(2026, 10, 5))
    with django_capture_on_commit_callbacks(execute=True):
        collections_run(today=date(2026, 10, 17))
    [reminder] = sms("due_reminder")
    assert "120.00元" in reminder.body and "2026年10月20日" in reminder.body
    assert DunningNotice.objects.get(stage="reminder").sent_at is not None
    # The day after the due date: the overdue notice; running the day again sends nothing new
    with django_capture_on_commit_callbacks(execute=True):
        collections_run(today=date(2026, 10, 21))
    with django_capture_on_commit_callbacks(execute=True):
        collections_run(today=date(2026, 10, 21))
    [overdue] = sms("overdue")
    assert "120.00元" in overdue.body
    assert len(sms("due_reminder")) == 1


def test_refund_approval_sends_a_refund_notice(world):
    issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    pay("100.00", date(2026, 10, 10), "P1")  # 80.00 to the bill, 20.00 credit
    cashier = UserFactory(username="n_cashier", role=Role.CASHIER, unit=world.bureau_a)
    manager = UserFactory(username="n_manager", role=Role.MANAGER, unit=world.bureau_a)
    refund = refunds.refund_request(
        actor=Actor(user=cashier), account=world.acct_a, amount="20.00", reason="多缴退还", method="cash"
    )
    assert sms("refund") == []  # nothing before the approval
    refunds.refund_decide(actor=Actor(user=manager), refund=refund, approve=True, note="同意")
    [n] = sms("refund")
    assert "20.00元" in n.body


def test_low_balance_alert_reaches_the_outbox(world, django_capture_on_commit_callbacks):
    # 1008.00 prepaid, bills 500 + 90 + 62 + 56 = 708.00 paid from it: 300.00 credit. Daily cost of the last
    # three bills 208.00 / 89 days = 2.34; on 6 Sep, 9 days after 28 Aug: 300.00 − 9 × 2.34 = 278.94 < 280.00.
    pay("1008.00", date(2026, 5, 1), "PRE-1")
    four_bills(world.acct_a)
    prepaid.prepaid_enrol(
        actor=Actor(user=world.a_clerk), account=world.acct_a, threshold="280.00", today=date(2026, 5, 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert prepaid.prepaid_estimate_run(today=date(2026, 9, 6)).alerts_raised == 1
    [n] = sms("low_balance")
    assert "278.94元" in n.body and "119天" in n.body  # floor(278.94 / 2.34) = 119


def test_a_broken_receipt_template_never_refuses_the_payment(world, caplog):
    from gridcare.notify.models import NoticeTemplate
    from gridcare.payments.models import Payment

    NoticeTemplate.objects.filter(kind="payment_receipt", channel="sms").update(body="{% if %}")
    issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))
    rec = pay("80.00", date(2026, 10, 10), "R-9")
    assert rec.created and Payment.objects.filter(pk=rec.payment.pk, unallocated=D("0.00")).exists()
    # The template is met off the payment's path: the render job logs the receipt it cannot render and drops it
    assert render_pending_receipts() == 1
    assert sms("payment_receipt") == []
    assert f"pending notice receipt:{rec.payment.pk} dropped" in caplog.text
    assert not PendingNotice.objects.exists()


def test_overdue_bills_of_one_account_make_one_message(world, django_capture_on_commit_callbacks):
    # Two bills overdue on the same run: 100.00 due 20 Sep and 80.00 due 20 Oct. On 21 Oct both are overdue;
    # the 100.00 one has been charged no late fee yet (arrears = principal + fee charged), so one 欠费通知 for
    # 100.00 + 80.00 = 180.00 with the earliest due date, 20 Sep.
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20), issued_on=date(2026, 9, 5))
    issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20), issued_on=date(2026, 10, 5))
    with django_capture_on_commit_callbacks(execute=True):
        collections_run(today=date(2026, 10, 21))
    assert DunningNotice.objects.filter(stage="overdue").count() == 2  # the record stays per bill
    [n] = sms("overdue")
    assert "180.00元" in n.body and "2026年9月20日" in n.body
