"""The demo builders as of an injected "today" (`--today` / `today=`): a year's last day, New Year's Day, a
leap day and the Monday after a public holiday. Each builds a small county (seed → readings → billing →
payments → collections → channels) and the data must make sense for that day, not merely load; then the
whole pipeline runs again and writes nothing.

The customers are seeded once for the module (the seed is date-independent: a fixed reference date); each
day's pipeline runs inside the test's transaction and is rolled back after it.
"""

from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from gridcare.billing.models import Bill
from gridcare.core.clock import DEMO_HOUR
from gridcare.metering.models import MeterRead
from gridcare.notify.models import Campaign
from gridcare.org.models import User
from gridcare.payments.models import (
    CashierShift,
    CollectionTask,
    DunningNotice,
    Payment,
    PrepaidAlert,
    PrepaidEstimate,
    StatementImport,
    WithholdingBatch,
)

MONTHS = 3


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """120 customers and the demo staff, once for the module; rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed", customers=120, seed=42, stdout=StringIO())
        yield
        transaction.set_rollback(True)


def build(today: date) -> None:
    for name, kw in (
        ("seed_readings", {"months": MONTHS, "seed": 42}),
        ("demo_billing", {"months": MONTHS}),
        ("demo_payments", {"recent": 2, "seed": 42}),
        ("demo_collections", {"days": 10, "seed": 42}),
        ("demo_channels", {"seed": 42}),
    ):
        call_command(name, stdout=StringIO(), today=today, **kw)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


# (today, the last complete month, the months billed, the counter's 4 working days before today, the next
# New Year greeting's day)
DAYS = [
    pytest.param(
        date(2026, 12, 31),
        ["2026-09", "2026-10", "2026-11"],
        # Thu 31 Dec: Wed 30, Tue 29, Mon 28, Fri 25 (the weekend of 26–27 skipped)
        [date(2026, 12, 25), date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30)],
        date(2027, 1, 1),
        id="year-end",
    ),
    pytest.param(
        date(2027, 1, 1),
        ["2026-10", "2026-11", "2026-12"],
        # Fri 1 Jan 2027 (a holiday itself): Thu 31, Wed 30, Tue 29, Mon 28 Dec 2026
        [date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)],
        date(2028, 1, 1),  # 1 January 09:00 has passed at 16:00: next year's
        id="new-year",
    ),
    pytest.param(
        date(2028, 2, 29),
        ["2027-11", "2027-12", "2028-01"],
        # Tue 29 Feb 2028 (no official schedule yet: Monday–Friday): Mon 28, Fri 25, Thu 24, Wed 23
        [date(2028, 2, 23), date(2028, 2, 24), date(2028, 2, 25), date(2028, 2, 28)],
        date(2029, 1, 1),
        id="leap-day",
    ),
    pytest.param(
        date(2026, 9, 28),
        ["2026-06", "2026-07", "2026-08"],
        # Mon 28 Sep 2026, after 中秋节 (Fri 25 – Sun 27 Sep, holidays): Thu 24, Wed 23, Tue 22, Mon 21
        [date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 23), date(2026, 9, 24)],
        date(2027, 1, 1),
        id="monday-after-mid-autumn",
    ),
]


@pytest.mark.parametrize(("today", "months", "working_days", "new_year"), DAYS)
def test_demo_as_of_a_day(seeded, db, today, months, working_days, new_year):
    build(today)
    now = local(today, DEMO_HOUR)
    month_start = today.replace(day=1)

    # Readings: the billed months only, none in today's month.
    reads = MeterRead.objects.aggregate(first=Min("read_at"), last=Max("read_at"))
    assert timezone.localdate(reads["last"]) < month_start
    assert timezone.localdate(reads["last"]).strftime("%Y-%m") == months[-1]

    # Bills: the last 3 complete months, each issued on the 5th of the next month at 10:00 — or now, when
    # that 5th is still to come (the latest month on 31 Dec / 1 Jan / 29 Feb has been issued "today").
    bills = Bill.objects.filter(status="issued")
    assert sorted({f"{b:%Y-%m}" for b in bills.values_list("period_start", flat=True)}) == months
    for period_start, issued_at, due in bills.values_list("period_start", "issued_at", "due_date").distinct():
        next_month = (period_start + timedelta(days=32)).replace(day=1)
        expected = min(local(next_month + timedelta(days=4), 10), now)
        assert issued_at == expected
        assert due == timezone.localdate(expected) + timedelta(days=15)
    latest = bills.filter(period_start=date.fromisoformat(months[-1] + "-01"))
    assert latest.exists()

    # Payments: none after now; some today (the counter and the terminals), the rest before.
    payments = Payment.objects.all()
    assert payments.filter(paid_at__gt=now).count() == 0
    assert payments.filter(paid_at__gte=local(today, 0)).exists()

    # Dunning: notices dated up to today; the reconnection task of the account that paid 26 hours ago.
    notice_days = DunningNotice.objects.aggregate(last=Max("notice_date"))["last"]
    assert notice_days is not None and notice_days <= today
    reconnect = CollectionTask.objects.filter(kind="reconnect").get()
    assert reconnect.created_at <= now and reconnect.due_at < now  # overdue, as the demo intends

    # Counter: a closed shift on each of the 4 working days before today (no holiday, no weekend), and the
    # cashier's open shift opened today at 08:30.
    cashier = User.objects.get(username="cashier")
    closed = CashierShift.objects.filter(cashier=cashier, status="closed")
    assert sorted({timezone.localdate(s.opened_at) for s in closed}) == working_days
    assert all(s.opened_at < s.closed_at < local(today, 0) for s in closed)
    running = CashierShift.objects.get(cashier=cashier, status="open")
    assert running.opened_at == local(today, 8, 30)
    assert all(running.opened_at <= p.paid_at <= now for p in Payment.objects.filter(shift=running))

    # Withholding: yesterday's batch, numbered with today's date; the statement of a day before today.
    batch = WithholdingBatch.objects.get()
    assert batch.as_of == today - timedelta(days=1)
    assert batch.batch_no == f"WH102{today:%Y%m%d}0001" and batch.status == "settled"
    stmt = StatementImport.objects.get(channel="alipay")  # the agents settle their own files
    assert stmt.statement_date < today and stmt.matched_count >= 1
    assert sorted(stmt.exceptions.values_list("kind", flat=True)) == [
        "amount_differs",
        "ours_only",
        "theirs_only",
    ]

    # Prepaid: today's estimates, today's alert.
    assert PrepaidEstimate.objects.exists()
    assert set(PrepaidEstimate.objects.values_list("estimated_on", flat=True)) == {today}
    assert PrepaidAlert.objects.filter(raised_on=today).exists()

    # The New Year greeting: the next 1 January 09:00 after now.
    greeting = Campaign.objects.get()
    assert greeting.scheduled_at == local(new_year, 9) and greeting.scheduled_at > now

    # The whole pipeline again, as `make run` does on every start: nothing new, nothing refused.
    models = (
        MeterRead,
        Bill,
        Payment,
        DunningNotice,
        CollectionTask,
        CashierShift,
        WithholdingBatch,
        Campaign,
    )
    before = [m.objects.count() for m in models]
    last = Payment.objects.order_by("-pk").first().pk
    build(today)
    assert list(Payment.objects.filter(pk__gt=last).values_list("channel_txn_id", flat=True)) == []
    assert [m.objects.count() for m in models] == before


def test_today_option_is_checked():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--today"):
        call_command("demo_billing", "--today", "2027-02-30", months=1, stdout=StringIO())
