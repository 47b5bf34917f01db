"""`gridcare demo_channels`: every payments page of the demo shows something real; a second run adds nothing.

The world is built as `make run` builds it, on a small county: seed → readings → billing → payments →
collections, then `demo_channels` — all as of TODAY (`--today`), never the wall clock's date: this test failed
on the real 6 December 2026, when the county's Alipay payments were too few for the reconciliation demo."""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.org.models import SupplyUnit, User
from gridcare.payments.channels import withholding
from gridcare.payments.counter import services as counter
from gridcare.payments.demo import channels as demo_channels
from gridcare.payments.models import (
    CashierShift,
    FeeWaiver,
    LedgerEntry,
    Payment,
    PrepaidAccount,
    PrepaidAlert,
    PrepaidEstimate,
    ReconciliationException,
    Refund,
    StatementImport,
    Terminal,
    WithholdingAgreement,
    WithholdingBatch,
    WithholdingItem,
)

MODELS = [
    AuditEvent,
    CashierShift,
    FeeWaiver,
    LedgerEntry,
    Payment,
    PrepaidAccount,
    PrepaidAlert,
    PrepaidEstimate,
    ReconciliationException,
    Refund,
    StatementImport,
    Terminal,
    WithholdingAgreement,
    WithholdingBatch,
]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


TODAY = date(2026, 12, 6)  # a Sunday


@pytest.fixture
def county(db):
    """A small county as `make run` builds it, up to `demo_collections`, as of TODAY."""
    call_command("seed", customers=300, seed=42, stdout=StringIO())
    for name, kw in (
        ("seed_readings", {"months": 3, "seed": 42}),
        ("demo_billing", {"months": 3}),
        ("demo_payments", {"recent": 2, "seed": 42}),
        ("demo_collections", {"days": 3, "seed": 42}),
    ):
        call_command(name, stdout=StringIO(), today=TODAY, **kw)


def chosen(after: int) -> tuple:
    """What the seed decides: who paid what through which channel, agreements, refunds, waivers, prepaid, exceptions."""
    return (
        sorted(
            Payment.objects.filter(pk__gt=after).values_list("channel", "account__account_number", "amount")
        ),
        sorted(
            WithholdingAgreement.objects.values_list(
                "account__account_number", "bank_code", "bank_account", "signed_on"
            )
        ),
        sorted(Refund.objects.values_list("account__account_number", "amount", "status")),
        sorted(FeeWaiver.objects.values_list("receivable_id", "amount", "status")),
        sorted(
            PrepaidAccount.objects.values_list("account__account_number", "threshold_days", "enrolled_on")
        ),
        sorted(ReconciliationException.objects.values_list("kind", "channel_txn_id", "their_amount")),
    )


def test_demo_channels(county, client):
    last = Payment.objects.order_by("-pk").values_list("pk", flat=True).first()
    with transaction.atomic():  # a first run, undone: the same seed on the same data chooses the same
        call_command("demo_channels", seed=42, today=TODAY, stdout=StringIO())
        first = chosen(last)
        transaction.set_rollback(True)
    out = StringIO()
    call_command("demo_channels", seed=42, today=TODAY, stdout=out)
    demo = out.getvalue()
    assert chosen(last) == first
    today = TODAY
    bureau = SupplyUnit.objects.get(code="0101")  # the demo cashier's bureau
    cashier, manager = User.objects.get(username="cashier"), User.objects.get(username="manager")
    assert demo.startswith("demo channels: ") and "\n" not in demo.strip()

    # 1. Counter: closed shifts on past working days balanced (declared = expected), today's still open.
    closed = list(CashierShift.objects.filter(cashier=cashier, status="closed"))
    assert len(closed) >= 4  # one or two on each of the last 4 working days
    assert all(timezone.localdate(s.opened_at) < today and s.closed_at > s.opened_at for s in closed)
    assert all((s.declared_cash, s.declared_card) == (s.expected_cash, s.expected_card) for s in closed)
    assert sum(s.payments_count for s in closed) > 0
    running = CashierShift.objects.get(cashier=cashier, status="open")
    assert timezone.localdate(running.opened_at) == today
    assert counter.shift_totals([running.pk])[running.pk].count >= 1
    busy = max(closed, key=lambda s: s.payments_count)
    sheet = counter.daily_sheet(user=manager, unit=bureau, day=timezone.localdate(busy.opened_at))
    assert (
        sheet.count >= busy.payments_count and sheet.open_shifts == 0
    )  # the 日结单 of that day is not empty
    # the shift's payments are counter payments of accounts that owed money: each paid bills
    shift_payments = Payment.objects.filter(shift__in=closed + [running])
    assert {p.channel for p in shift_payments} <= {"counter_cash", "counter_card"}
    assert all(p.allocations.exists() for p in shift_payments)

    # 2. A terminal per bureau, terminal payments named "<code>:<terminal txn>".
    terminals = {t.code: t for t in Terminal.objects.all()}
    bureaus = SupplyUnit.objects.filter(level="bureau")
    assert set(terminals) == {f"T{b.code}" for b in bureaus}
    paid = Payment.objects.filter(channel="terminal", channel_txn_id__startswith="T0101:")
    assert paid.exists() and all(p.unit.path.startswith(bureau.path) for p in paid)

    # 3. Withholding: agreements with valid card numbers, one settled batch with successes and failures.
    agreements = list(WithholdingAgreement.objects.select_related("account__customer"))
    assert len(agreements) >= 12
    assert all(
        withholding.luhn_ok(a.bank_account) and a.holder_name == a.account.customer.name for a in agreements
    )
    batch = WithholdingBatch.objects.get()
    assert batch.status == "settled" and batch.as_of == today - timedelta(days=1)
    items = dict(WithholdingItem.objects.filter(batch=batch).values_list("status").annotate(n=Count("id")))
    assert items.get("debited", 0) >= 1 and items.get("failed", 0) >= 1 and "pending" not in items
    assert set(WithholdingItem.objects.filter(status="failed").values_list("result_message", flat=True)) <= {
        "余额不足",
        "账户已冻结",
    }

    # 4. Reconciliation: one exception of each kind on the Alipay statement.
    stmt = StatementImport.objects.get(channel="alipay")  # the agents' files: test_agents_demo.py
    assert stmt.channel == "alipay" and stmt.statement_date < today and stmt.unit == bureau
    kinds = sorted(stmt.exceptions.values_list("kind", flat=True))
    assert kinds == ["amount_differs", "ours_only", "theirs_only"]
    assert stmt.matched_count >= 1

    # 5. Refunds: one pending, one approved by the manager (not the requester).
    refunds = {r.status: r for r in Refund.objects.all()}
    assert set(refunds) == {"pending", "approved"}
    assert refunds["approved"].decided_by == manager and refunds["approved"].requested_by == cashier
    assert refunds["approved"].parts.exists()

    # 6. Waivers: one pending, one approved by the manager.
    waivers = {w.status: w for w in FeeWaiver.objects.all()}
    assert set(waivers) == {"pending", "approved"}
    assert (
        waivers["approved"].decided_by == manager and waivers["approved"].requested_by.username == "billing"
    )

    # 7. Prepaid: ~2 % of residential accounts, today's estimates, at least one low-balance alert.
    enrolled = PrepaidAccount.objects.count()
    assert enrolled >= 3
    assert PrepaidEstimate.objects.filter(estimated_on=today).count() == enrolled
    assert PrepaidAlert.objects.filter(raised_on=today).exists()
    assert PrepaidAccount.objects.filter(alert_state="armed").exists()  # most topped up enough

    # 8. A New Year greeting to the households, created by the manager, scheduled for 1 January 09:00, not sent.
    from gridcare.notify.models import Campaign

    greeting = Campaign.objects.get()
    local = timezone.localtime(greeting.scheduled_at)
    assert (greeting.segment, greeting.created_by, local.month, local.day, local.hour) == (
        "household",
        manager,
        1,
        1,
        9,
    )
    assert greeting.status != "launched"

    # The pages show them.
    client.force_login(cashier)
    page = client.get(reverse("payments:counter")).content.decode()
    assert 'data-testid="shift-count">0<' not in page and running.counter in page  # the running shift
    client.force_login(manager)
    day = timezone.localdate(busy.opened_at).isoformat()
    page = client.get(reverse("payments:shift_daily"), {"day": day, "unit": bureau.pk})
    assert page.status_code == 200 and busy.counter in page.content.decode()
    assert (
        refunds["pending"].account.account_number
        in client.get(reverse("payments:refund_list")).content.decode()
    )
    assert "演示：" in client.get(reverse("payments:waivers")).content.decode()
    client.force_login(User.objects.get(username="billing"))
    assert (
        "余额不足"
        in client.get(reverse("payments:withholding_batch", args=[batch.batch_no])).content.decode()
    )
    detail = client.get(reverse("payments:reconcile_detail", args=[stmt.pk])).content.decode()
    assert all(e.channel_txn_id in detail for e in stmt.exceptions.all())
    client.force_login(User.objects.get(username="admin"))
    low = PrepaidAccount.objects.filter(alert_state="low").select_related("account").first()
    page = client.get(reverse("payments:prepaid_list"), {"alert_state": "low"}).content.decode()
    assert low.account.account_number in page

    # Audited, by the demo staff: nothing bypassed the services.
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "shift.open",
        "shift.close",
        "terminal.add",
        "withholding_agreement.create",
        "withholding_batch.export",
        "withholding_batch.import",
        "reconciliation.import",
        "refund.request",
        "refund.approve",
        "fee_waiver.request",
        "fee_waiver.approve",
        "prepaid.enrol",
        "prepaid.estimate_run",
    } <= actions

    # A second run writes nothing new.
    before = counts()
    out = StringIO()
    call_command("demo_channels", seed=42, today=TODAY, stdout=out)
    assert counts() == before
    assert "nothing new" in out.getvalue()


def test_without_the_demo_logins_the_command_says_what_to_run(db):
    with pytest.raises(CommandError, match="gridcare seed"):
        call_command("demo_channels", seed=42, stdout=StringIO())
    assert not AuditEvent.objects.exists()


def test_helpers():
    # Luhn check digit of 622202 000000000000: from the right, the body's last digit is doubled first, so the
    # doubled digits are the 2nd, 4th and 6th of "622202…" (2, 2, 2 → 4, 4, 4) and the others count as they
    # are (6, 2, 0): 4 + 4 + 4 + 6 + 2 + 0 = 20 → check digit 0.
    assert demo_channels.luhn_complete("622202000000000000") == "6222020000000000000"
    assert withholding.luhn_ok(demo_channels.card_number(random.Random(1), "105"))
    assert len(demo_channels.card_number(random.Random(1), "105")) == 19
    # the next multiple strictly above: 87.30 → 90.00, 90.00 → 100.00, 87.30 → 100.00 by hundreds
    assert demo_channels.round_up(Decimal("87.30")) == Decimal("90.00")
    assert demo_channels.round_up(Decimal("90.00")) == Decimal("100.00")
    assert demo_channels.round_up(Decimal("87.30"), 100) == Decimal("100.00")
    # Monday 28 Sep 2026, after 中秋节 (Fri 25 – Sun 27 off): Thu 24, Wed 23, Tue 22, Mon 21
    assert demo_channels.working_days(date(2026, 9, 28), 4) == [
        date(2026, 9, 21),
        date(2026, 9, 22),
        date(2026, 9, 23),
        date(2026, 9, 24),
    ]
    # The next New Year greeting: tomorrow's on 31 December; on 1 January at 08:59 today's, at 09:00 the next
    tz = timezone.get_current_timezone()
    assert demo_channels.next_new_year(datetime(2026, 12, 31, 16, tzinfo=tz)) == datetime(
        2027, 1, 1, 9, tzinfo=tz
    )
    assert demo_channels.next_new_year(datetime(2027, 1, 1, 8, 59, tzinfo=tz)) == datetime(
        2027, 1, 1, 9, tzinfo=tz
    )
    assert demo_channels.next_new_year(datetime(2027, 1, 1, 9, tzinfo=tz)) == datetime(
        2028, 1, 1, 9, tzinfo=tz
    )
    # Tuesday 24 Nov 2026: Mon 23, (weekend skipped) Fri 20, Thu 19, Wed 18
    assert demo_channels.working_days(date(2026, 11, 24), 4) == [
        date(2026, 11, 18),
        date(2026, 11, 19),
        date(2026, 11, 20),
        date(2026, 11, 23),
    ]
