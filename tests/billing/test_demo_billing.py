"""The demo month list is the N complete months before today, oldest first, across a year boundary."""

from datetime import date

from gridcare.billing.management.commands.demo_billing import last_complete_months


def test_last_complete_months_cross_the_year():
    assert last_complete_months(3, date(2026, 2, 10)) == ["2025-11", "2025-12", "2026-01"]
    assert last_complete_months(1, date(2026, 11, 24)) == ["2026-10"]
    assert len(last_complete_months(12, date(2026, 11, 24))) == 12


def test_billing_cli_unknown_unit_is_a_clear_error(db):
    import pytest
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="未知的供电单位"):
        call_command("billing", "run", period="2026-10", unit="NOPE")


def test_demo_billing_issues_each_month_as_the_bureau_would(world, route):
    """October's bills are issued on 5 November 10:00 and due 15 days later (not all on the day of the seed)."""
    from datetime import datetime

    from django.core.management import call_command
    from django.utils import timezone

    from gridcare.billing.models import Bill, BillStatus
    from tests.billing.test_runs import at, read

    read(world.acct_a, at(2026, 10, 5), "150")
    call_command("demo_billing", "--today", "2026-11-24", months=1)
    bill = Bill.objects.get(account=world.acct_a)
    assert bill.status == BillStatus.ISSUED and bill.period_start == date(2026, 10, 1)
    assert timezone.localtime(bill.issued_at).replace(tzinfo=None) == datetime(2026, 11, 5, 10, 0)  # noqa: DTZ001
    assert bill.due_date == date(2026, 11, 20)


def test_demo_billing_on_new_years_day_issues_december_today(world, route):
    """On 1 January 2027 the last complete month is December 2026; its 5 January issue date is still to come,
    so its bills are issued now (1 January, 16:00 in the demo's clock) and due 15 days later, 16 January."""
    from datetime import datetime

    from django.core.management import call_command
    from django.utils import timezone

    from gridcare.billing.models import Bill
    from tests.billing.test_runs import at, read

    read(world.acct_a, at(2026, 12, 5), "150")
    call_command("demo_billing", today=date(2027, 1, 1), months=1)
    bill = Bill.objects.get(account=world.acct_a)
    assert bill.period_start == date(2026, 12, 1)
    assert timezone.localtime(bill.issued_at).replace(tzinfo=None) == datetime(2027, 1, 1, 16, 0)  # noqa: DTZ001
    assert bill.due_date == date(2027, 1, 16)
