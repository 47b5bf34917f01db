"""`gridcare demo_payments`: older bills settled by one opening payment without late fees; idempotent."""

from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

from django.core.management import call_command

from gridcare.payments.models import LedgerEntry, Payment, Receivable
from tests.payments.ledger.test_ledger import issued_bill


def test_demo_payments(world):
    for period, amount, due in (
        ("2026-05", "10.00", date(2026, 6, 20)),
        ("2026-06", "20.00", date(2026, 7, 20)),
        ("2026-07", "30.00", date(2026, 8, 20)),
        ("2026-08", "40.00", date(2026, 9, 20)),
    ):
        issued_bill(world.acct_a, period, amount, due)
    out = StringIO()
    call_command("demo_payments", recent=2, seed=42, today=date(2026, 10, 30), stdout=out)
    opening = Payment.objects.get(channel_txn_id="OPEN-3100000001")
    # May and June (10.00 + 20.00) paid on 19 June, the day before May's due date: no late fee
    assert opening.amount == Decimal("30.00") and opening.channel == "bank"
    assert opening.paid_at.date() == date(2026, 6, 19)
    paid = Receivable.objects.filter(period__in=["2026-05", "2026-06"])
    assert all(r.principal_paid == r.principal and r.fee_charged == 0 for r in paid)
    # July and August follow the account's drawn profile: any payment made covers that bill and its fee, and
    # none is dated after the demo's now (30 October 2026, 16:00)
    assert not Payment.objects.filter(
        paid_at__gt=datetime(2026, 10, 30, 16, tzinfo=ZoneInfo("Asia/Shanghai"))
    )
    for r in Receivable.objects.filter(period__in=["2026-07", "2026-08"]):
        assert r.principal_paid in (Decimal("0.00"), r.principal)
    n_payments, n_entries = Payment.objects.count(), LedgerEntry.objects.count()
    call_command(
        "demo_payments", recent=2, seed=42, today=date(2026, 10, 30), stdout=StringIO()
    )  # again: nothing new

    assert (Payment.objects.count(), LedgerEntry.objects.count()) == (n_payments, n_entries)
