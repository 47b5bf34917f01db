"""Arrears episodes derived from the ledger, and withholding candidates, with hand-worked figures.

张三's account 3100000001 (residential). Bills are issued and paid through the ledger services (as in
tests/payments/ledger): a payment pays the oldest open bill first, late fee before principal, so each test pays
exactly what a bill owes on the day (`pay_off`). Today is 2026-12-01 unless a test says otherwise."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.credit.choices import EventStatus
from gridcare.credit.ledger import arrears_derive, derive_all, whole_months, withholding_candidates_derive
from gridcare.credit.models import CreditEvent
from gridcare.credit.policy import current_policy
from gridcare.payments.ledger import services
from gridcare.payments.ledger.statement import statement_line
from gridcare.payments.models import Receivable

from .conftest import TODAY

D = Decimal
SYSTEM = Actor()


def issued_bill(account, period: str, amount: str, due: date) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    bill = Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=date(y, m, 1),
        period_end=date(y, m, 28),
        tariff_code="RES-TIER",
        kwh_total=D(0),
        amount=D(amount),
        status=BillStatus.ISSUED,
        due_date=due,
        issued_at=timezone.now(),
        created_at=timezone.now(),
    )
    services.receivables_open([bill.pk], on=due.replace(day=5))
    return bill


_txn = iter(range(1, 10_000))


def pay_off(bill: Bill, on: date):
    """Pay exactly what `bill` owes on `on` (principal and late fee), at 10:00 China time."""
    r = Receivable.objects.get(bill=bill)
    line = statement_line(r, on)
    when = timezone.make_aware(datetime(on.year, on.month, on.day, 10))  # noqa: DTZ001
    return services.payment_record(
        actor=SYSTEM,
        channel="counter_cash",
        channel_txn_id=f"CR{next(_txn)}",
        account_number=bill.account.account_number,
        amount=str(line.principal_outstanding + line.late_fee),
        paid_at=when,
    )


def events(**kw):
    return {
        (e.code, e.date, e.severity, e.status)
        for e in CreditEvent.objects.filter(**kw).order_by("date", "id")
    }


def derive(world, today=TODAY):
    return arrears_derive(today=today, account_ids=[world.acct_a.pk, world.acct_b.pk])


def test_whole_months_by_calendar():
    assert whole_months(date(2026, 9, 20), date(2026, 11, 20)) == 2
    assert whole_months(date(2026, 9, 20), date(2026, 11, 19)) == 1
    # Forward from the due date, the day clamped to the month's end: 01-31 + 1 month = 02-28 ≤ 02-28 → 1;
    # 12-31 + 2 months = 02-28 (2027 is not a leap year) → 2; 01-30 + 1 month = 02-28, so 02-27 is still 0.
    assert whole_months(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert whole_months(date(2026, 1, 31), date(2026, 2, 27)) == 0
    assert whole_months(date(2026, 12, 31), date(2027, 2, 28)) == 2
    assert whole_months(date(2026, 12, 31), date(2027, 2, 27)) == 1
    assert whole_months(date(2026, 1, 31), date(2026, 3, 1)) == 1
    assert whole_months(date(2026, 9, 20), date(2026, 9, 30)) == 0
    assert whole_months(date(2026, 9, 20), date(2026, 9, 1)) == 0


def test_one_bill_ten_days_late_severity_one_and_cleared(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    pay_off(b, date(2026, 9, 30))
    out = derive(world)
    # Overdue (paid after 09-20): one month in the run, 0 whole months late → severity 1, dated 09-21.
    # Paid 09-30 ≤ 10-31 (end of the month after the last due date's month) → cleared, dated 09-30.
    assert events() == {
        ("arrears", date(2026, 9, 21), 1, "active"),
        ("arrears_cleared_next_month", date(2026, 9, 30), None, "active"),
    }
    assert out["created"] == 2
    e = CreditEvent.objects.get(code="arrears")
    assert (e.source, e.source_key, e.account_id, e.customer_id, e.unit_id) == (
        "ledger",
        f"arrears:{world.acct_a.pk}:2026-08",
        world.acct_a.pk,
        world.cust_a.pk,
        world.cust_a.unit_id,
    )
    assert CreditEvent.objects.get(code="arrears_cleared_next_month").source_key == (
        f"cleared:{world.acct_a.pk}:2026-08"
    )
    assert AuditEvent.objects.filter(action="credit.event_create").count() == 2


def test_paid_on_time_makes_nothing(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    pay_off(b, date(2026, 9, 20))
    derive(world)
    assert events() == set()


def test_two_consecutive_months_severity_two(world):
    b1 = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    b2 = issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))
    pay_off(b1, date(2026, 10, 25))
    pay_off(b2, date(2026, 10, 25))
    derive(world)
    # Run of 2 months; the oldest stayed unpaid 09-20 → 10-25 = 1 whole month → max(2, 1) = 2.
    # Last due 10-20, all paid 10-25 ≤ 11-30 → cleared on 10-25.
    assert events() == {
        ("arrears", date(2026, 9, 21), 2, "active"),
        ("arrears_cleared_next_month", date(2026, 10, 25), None, "active"),
    }


def test_one_bill_two_whole_months_late_and_paid_too_late_to_clear(world):
    b = issued_bill(world.acct_a, "2026-05", "100.00", date(2026, 6, 20))
    pay_off(b, date(2026, 8, 20))
    derive(world)
    # 06-20 → 08-20 = 2 whole months → severity 2; paid after 07-31 → no cleared event.
    assert events() == {("arrears", date(2026, 6, 21), 2, "active")}


def test_still_unpaid_counts_to_today_and_caps_at_three(world):
    issued_bill(world.acct_a, "2026-02", "100.00", date(2026, 3, 20))
    derive(world)
    # Unpaid since 03-20, today 12-01 → 8 whole months → capped at 3; no cleared event while unpaid.
    assert events() == {("arrears", date(2026, 3, 21), 3, "active")}


def test_three_consecutive_months_cap(world):
    bills = [
        issued_bill(world.acct_a, "2026-06", "50.00", date(2026, 7, 20)),
        issued_bill(world.acct_a, "2026-07", "50.00", date(2026, 8, 20)),
        issued_bill(world.acct_a, "2026-08", "50.00", date(2026, 9, 20)),
        issued_bill(world.acct_a, "2026-09", "50.00", date(2026, 10, 20)),
    ]
    for b in bills:
        pay_off(b, date(2026, 10, 22))
    derive(world)
    # 4 months in the run → capped at 3; last due 10-20, paid 10-22 ≤ 11-30 → cleared.
    assert events() == {
        ("arrears", date(2026, 7, 21), 3, "active"),
        ("arrears_cleared_next_month", date(2026, 10, 22), None, "active"),
    }


def test_non_consecutive_overdue_months_are_two_episodes(world):
    may = issued_bill(world.acct_a, "2026-05", "100.00", date(2026, 6, 20))
    june = issued_bill(world.acct_a, "2026-06", "100.00", date(2026, 7, 20))
    july = issued_bill(world.acct_a, "2026-07", "100.00", date(2026, 8, 20))
    pay_off(may, date(2026, 6, 25))
    pay_off(june, date(2026, 7, 10))  # on time: breaks the run
    pay_off(july, date(2026, 8, 25))
    derive(world)
    assert events() == {
        ("arrears", date(2026, 6, 21), 1, "active"),
        ("arrears_cleared_next_month", date(2026, 6, 25), None, "active"),
        ("arrears", date(2026, 8, 21), 1, "active"),
        ("arrears_cleared_next_month", date(2026, 8, 25), None, "active"),
    }


def test_grace_days(world):
    p = current_policy()
    p.grace_days = 5
    p.save()
    a = issued_bill(world.acct_a, "2026-05", "100.00", date(2026, 6, 20))
    b = issued_bill(world.acct_a, "2026-07", "100.00", date(2026, 8, 20))
    pay_off(a, date(2026, 6, 25))  # on the last day of grace (06-20 + 5): not overdue
    pay_off(b, date(2026, 8, 26))  # a day after grace: overdue, still dated the day after the due date
    derive(world)
    assert events() == {
        ("arrears", date(2026, 8, 21), 1, "active"),
        ("arrears_cleared_next_month", date(2026, 8, 26), None, "active"),
    }


def test_rerun_is_idempotent(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    pay_off(b, date(2026, 9, 30))
    derive(world)
    audits = AuditEvent.objects.count()
    again = derive(world)
    assert (again["created"], again["updated"], again["voided"]) == (0, 0, 0)
    assert CreditEvent.objects.count() == 2 and AuditEvent.objects.count() == audits


def test_reversal_updates_severity_and_voids_cleared(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    p = pay_off(b, date(2026, 9, 30))
    derive(world)
    services.payment_reverse(actor=SYSTEM, payment=p.payment, reason="退票")
    out = derive(world)
    # Unpaid again: 09-20 → 12-01 = 2 whole months → severity 2; the cleared event's episode is gone → void.
    assert events() == {
        ("arrears", date(2026, 9, 21), 2, "active"),
        ("arrears_cleared_next_month", date(2026, 9, 30), None, "void"),
    }
    assert (out["updated"], out["voided"]) == (1, 1)
    upd = AuditEvent.objects.get(action="credit.event_update")
    assert upd.changes["severity"] == [1, 2]
    assert AuditEvent.objects.get(action="credit.event_void").changes["status"] == ["active", "void"]


def test_cancelled_bill_voids_its_episode(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    derive(world)
    assert events() == {("arrears", date(2026, 9, 21), 2, "active")}
    services.receivable_cancel(bill_id=b.pk, reason="抄表错误")
    derive(world)
    assert events() == {("arrears", date(2026, 9, 21), 2, "void")}


def test_nothing_dated_after_today(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    derive(world, today=date(2026, 9, 20))  # the due date itself: not overdue yet
    assert events() == set()
    pay_off(b, date(2026, 9, 30))
    derive(world, today=date(2026, 9, 25))  # the payment of 09-30 lies after today: unpaid as of today
    assert events() == {("arrears", date(2026, 9, 21), 1, "active")}
    derive(world)  # as of 12-01 the payment counts
    assert events() == {
        ("arrears", date(2026, 9, 21), 1, "active"),
        ("arrears_cleared_next_month", date(2026, 9, 30), None, "active"),
    }


def test_contested_row_keeps_status_but_severity_follows(world):
    b = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    derive(world, today=date(2026, 10, 1))  # 09-20 → 10-01: 0 whole months → severity 1
    e = CreditEvent.objects.get(code="arrears")
    assert e.severity == 1
    CreditEvent.objects.filter(pk=e.pk).update(status=EventStatus.CONTESTED, status_before_contest="active")
    derive(world)  # 12-01: 2 whole months
    e.refresh_from_db()
    assert (e.status, e.severity) == ("contested", 2)
    services.receivable_cancel(bill_id=b.pk, reason="作废")
    derive(world)
    e.refresh_from_db()
    assert e.status == "contested"  # never voided while contested


def test_annulled_void_row_never_returns(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    derive(world)
    CreditEvent.objects.filter(code="arrears").update(
        status=EventStatus.VOID
    )  # as an annulled contest leaves it
    derive(world)
    assert events() == {("arrears", date(2026, 9, 21), 2, "void")}


@pytest.fixture
def failed_items(world):
    from gridcare.payments.channels.models import WithholdingAgreement, WithholdingBatch, WithholdingItem

    now = timezone.make_aware(datetime(2026, 11, 10, 9))  # noqa: DTZ001
    agr = WithholdingAgreement.objects.create(
        account=world.acct_a,
        unit=world.acct_a.unit,
        bank_code="105",
        bank_name="建设银行",
        bank_account="6217000000000000001",
        holder_name="张三",
        signed_on=date(2026, 1, 1),
        created_at=now,
    )
    batch = WithholdingBatch.objects.create(
        batch_no="WH1", unit=world.bureau_a, bank_code="105", as_of=date(2026, 11, 10), created_at=now
    )

    def item(serial, status, code, settled=None):
        return WithholdingItem.objects.create(
            batch=batch,
            serial=serial,
            account=world.acct_a,
            unit=world.acct_a.unit,
            agreement=agr,
            bank_account=agr.bank_account,
            holder_name="张三",
            amount=D("10.00"),
            status=status,
            result_code=code,
            settled_at=settled,
        )

    return [
        item(1, "failed", "3001", timezone.make_aware(datetime(2026, 11, 11, 23, 30))),  # noqa: DTZ001
        item(2, "failed", "9999", now),  # another failure: not a wrong account
        item(3, "debited", "3001", now),
        item(4, "failed", "3002", timezone.make_aware(datetime(2026, 12, 2, 9))),  # noqa: DTZ001 — after today
    ]


def test_withholding_candidates(world, failed_items):
    out = withholding_candidates_derive(today=TODAY)
    assert out == {"created": 1}
    e = CreditEvent.objects.get()
    assert (e.code, e.status, e.source, e.source_key, e.date, e.customer_id) == (
        "wrong_bank_account",
        "candidate",
        "withholding",
        f"withholding:{failed_items[0].pk}",
        date(2026, 11, 11),
        world.cust_a.pk,
    )
    assert withholding_candidates_derive(today=TODAY) == {"created": 0}  # idempotent
    assert withholding_candidates_derive(today=date(2026, 12, 2)) == {"created": 1}


def test_derive_all_and_job(world, failed_items):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    out = derive_all(today=TODAY, actor=SYSTEM)
    assert out["arrears"]["created"] == 1 and out["withholding"]["created"] == 1
    from gridcare.jobs.registry import SCHEDULES, get

    assert get("credit.derive_events").perm == "credit.admin"
    assert SCHEDULES["credit.derive_events"].crontab == {"minute": "30", "hour": "2"}


def test_job_kind_runs_and_returns_json(world):
    import json
    from types import SimpleNamespace

    from gridcare.credit.jobs_register import credit_derive_events

    ctx = SimpleNamespace(set_total=lambda n: None, set_done=lambda n: None)
    out = credit_derive_events(ctx)  # as of the local date: only the shape is checked here
    assert set(out) == {"today", "arrears", "withholding"}
    assert out["arrears"]["accounts"] == 2
    json.dumps(out)


def test_on_demand_rating_derives_the_customers_arrears_first(world):
    """No nightly derivation has run: rating cust_a on demand (now 2026-12-01 10:00) finds its bill due 2026-10-20
    still unpaid — one month in the run, one whole month late (10-20 + 1 month = 11-20 ≤ 12-01) → severity 1,
    −10: lighting payment 30 − 10 = 20 → 50 × 20 / 30 = 33.3, legal 50 → 83.3, AA. cust_b's accounts are not touched."""
    from gridcare.credit import runs

    issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))
    issued_bill(world.acct_b, "2026-09", "80.00", date(2026, 10, 20))
    now = timezone.make_aware(datetime(2026, 12, 1, 10))  # noqa: DTZ001
    score = runs.customer_rate(actor=SYSTEM, customer=world.cust_a, as_of=date(2026, 11, 30), now=now)
    assert events(customer=world.cust_a) == {("arrears", date(2026, 10, 21), 1, "active")}
    assert not CreditEvent.objects.filter(customer=world.cust_b).exists()
    assert (score.payment, score.legal, score.total, score.grade) == (D("33.3"), D("50.0"), D("83.3"), "AA")


def test_on_demand_rating_refuses_a_future_as_of_and_writes_nothing(world):
    """The service itself refuses it (page, API and job all go through it): as_of 2026-12-02 when now is 12-01."""
    from django.core.exceptions import ValidationError

    from gridcare.credit import runs
    from gridcare.credit.models import CreditRun

    now = timezone.make_aware(datetime(2026, 12, 1, 10))  # noqa: DTZ001
    with pytest.raises(ValidationError) as exc:
        runs.customer_rate(actor=SYSTEM, customer=world.cust_a, as_of=date(2026, 12, 2), now=now)
    assert "as_of" in exc.value.message_dict
    assert not CreditRun.objects.exists()
