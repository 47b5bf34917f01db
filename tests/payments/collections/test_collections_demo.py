"""`gridcare demo_collections`: every dunning stage shows, whatever the day of the month; idempotent. The demo
runs as of TODAY (`--today`) and the bills are laid out relative to it."""

from datetime import date, datetime, time, timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.choices import CustomerClass, Segment
from gridcare.payments.ledger import services
from gridcare.payments.models import CollectionTask, DunningNotice, Payment
from tests.factories import CustomerFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill

TODAY = date(2026, 12, 6)
NOW = datetime(2026, 12, 6, 16, tzinfo=timezone.get_current_timezone())  # the demo's clock on TODAY


def test_demo_collections(world):
    shop = CustomerFactory(
        name="东关商店", unit=world.station_a, customer_class=CustomerClass.COMMERCIAL, segment=Segment.SME
    )
    acct_shop = make_account(shop, "3100000002", world.area_a)
    today = TODAY
    for account in (world.acct_a, acct_shop):
        # Two older bills settled by the opening bank payment (as demo_payments does), two recent ones unpaid.
        for i, months_ago in enumerate((4, 3, 2, 1)):
            due = today - timedelta(days=30 * months_ago - 25)
            issued_bill(account, f"2026-0{i + 1}", "100.00", due, issued_on=due - timedelta(days=15))
        first_due = today - timedelta(days=30 * 4 - 25)
        services.payment_record(
            actor=Actor(),
            channel="bank",
            channel_txn_id=f"OPEN-{account.account_number}",
            account_number=account.account_number,
            amount="200.00",
            paid_at=datetime.combine(
                first_due - timedelta(days=1), time(9), tzinfo=timezone.get_current_timezone()
            ),
        )
    out = StringIO()
    call_command("demo_collections", days=30, accounts=2, seed=1, today=TODAY, stdout=out)
    assert "2 accounts with old arrears" in out.getvalue()
    stages = set(DunningNotice.objects.values_list("stage", flat=True))
    assert {"overdue", "disconnect", "reconnect"} <= stages
    world.acct_a.refresh_from_db()
    assert world.acct_a.protected  # the residential one of the two
    awaiting = CollectionTask.objects.get(account=world.acct_a, kind="disconnect")
    assert awaiting.status == "awaiting_approval"
    done = CollectionTask.objects.get(account=acct_shop, kind="disconnect")
    reconnect = CollectionTask.objects.get(account=acct_shop, kind="reconnect")
    assert done.status == "done" and reconnect.status == "open"
    assert reconnect.due_at == NOW - timedelta(hours=2)  # paid 26 h ago, due 24 h later: overdue, as listed
    n = (DunningNotice.objects.count(), CollectionTask.objects.count())
    # Again: nothing new, and the same two accounts named, though the shop has paid everything since.
    out = StringIO()
    call_command("demo_collections", days=30, accounts=2, seed=1, today=TODAY, stdout=out)
    assert (DunningNotice.objects.count(), CollectionTask.objects.count()) == n
    assert "2 accounts with old arrears" in out.getvalue()
    assert Payment.objects.filter(status="reversed").count() == 2
