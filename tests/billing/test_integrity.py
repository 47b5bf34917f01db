"""Bills and lines keep their references on PostgreSQL (set-based triggers, migration 0006).

SQLite has no such triggers (migration 0007); there the application keeps the references."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gridcare.billing.models import Bill, BillingRun, BillLine
from gridcare.customers.models import Account

MISSING = 987_654_321
pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reference triggers are PostgreSQL's"
)


def bill(world, **kw):
    values = {
        "account": world.acct_a,
        "unit": world.station_a,
        "period_start": date(2026, 10, 1),
        "period_end": date(2026, 10, 31),
        "tariff_code": "RES-TIER",
        "kwh_total": 0,
        "amount": 0,
        "created_at": timezone.now(),
        **kw,
    }
    return Bill.objects.create(**values)


@pytest.mark.parametrize("field", ["account_id", "unit_id", "run_id"])
def test_bill_with_a_missing_reference_is_refused(world, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        bill(world, **{field: MISSING})
    assert not Bill.objects.exists()


def test_bill_update_to_a_missing_reference_is_refused(world):
    b = bill(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        Bill.objects.filter(pk=b.pk).update(account_id=MISSING)
    b.refresh_from_db()
    assert b.account_id == world.acct_a.pk


def test_line_with_a_missing_bill_is_refused(world):
    b = bill(world)
    BillLine.objects.create(
        bill=b,
        seq=1,
        code="energy",
        label="电度电费",
        quantity=0,
        unit_price=0,
        amount=0,
        part_start=b.period_start,
        part_end=b.period_end,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BillLine.objects.create(
            bill_id=MISSING,
            seq=1,
            code="energy",
            label="x",
            quantity=0,
            unit_price=0,
            amount=0,
            part_start=b.period_start,
            part_end=b.period_end,
        )
    assert BillLine.objects.count() == 1


def test_deleting_a_referenced_row_is_refused_on_postgresql(world):
    # A bare account and a run that nothing but the bill refers to: only the trigger can stop their deletion.
    account = Account.objects.create(
        account_number="3100009999",
        customer=world.acct_a.customer,
        premise=world.acct_a.premise,
        unit=world.station_a,
        opened_on=date(2026, 1, 1),
    )
    run = BillingRun.objects.create(
        period="2026-10",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        unit=world.station_a,
        created_at=timezone.now(),
    )
    b = bill(world, account=account, run=run)
    BillLine.objects.create(
        bill=b,
        seq=1,
        code="energy",
        label="电度电费",
        quantity=0,
        unit_price=0,
        amount=0,
        part_start=b.period_start,
        part_end=b.period_end,
    )
    for table, pk in (
        ("billing_bill", b.pk),
        ("customers_account", account.pk),
        ("billing_billingrun", run.pk),
    ):
        with (
            pytest.raises(IntegrityError, match="still referenced"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608
    assert Bill.objects.filter(pk=b.pk, account=account, run=run).exists()
    # Once the lines and the bill are gone, the account and the run can go.
    BillLine.objects.filter(bill=b).delete()
    Bill.objects.filter(pk=b.pk).delete()
    with connection.cursor() as c:
        c.execute("DELETE FROM billing_billingrun WHERE id = %s", [run.pk])
        c.execute("DELETE FROM customers_account WHERE id = %s", [account.pk])
