"""Collections under concurrency (PostgreSQL row locks): a payment committed while the daily run works.

The rule: the run locks the accounts it acts on and re-reads their arrears after the lock; a payment locks
its account and its hook cancels an open disconnection task once the arrears are paid. Whichever of the two
gets the lock first, no disconnection task stays open for a paid account.

Given 张三's 100.00 bill due 20 September 2026, the disconnection notice of 20 October plans 27 October.
Paying in full on 27 October 10:00 costs 100.00 + 100 × 0.001 × 37 days (20 Sep → 27 Oct) = 3.70 = 103.70.
"""

import threading
from datetime import date, datetime

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.payments.collections.services import collections_run
from gridcare.payments.ledger import services
from gridcare.payments.models import CollectionTask, DunningNotice, Receivable
from tests.payments.ledger.test_ledger import issued_bill

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL's row locks"
)
PAID_AT = timezone.make_aware(datetime(2026, 10, 27, 10))  # noqa: DTZ001


def _pay():
    return services.payment_record(
        actor=Actor(),
        channel="counter_cash",
        channel_txn_id="PG-1",
        account_number="3100000001",
        amount="103.70",
        paid_at=PAID_AT,
    )


def _wait_until_blocked(timeout_polls: int = 2000) -> None:
    """Until another backend waits for a row lock (PostgreSQL tells us; no guessing with sleeps)."""
    import time

    with connection.cursor() as cur:
        for _ in range(timeout_polls):
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cur.fetchone()[0]:
                return
            time.sleep(0.005)
    raise AssertionError("the other transaction never waited for the lock")


def _thread(target, errors):
    def body():
        try:
            target()
        except Exception as exc:  # noqa: BLE001 — reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    t = threading.Thread(target=body)
    t.start()
    return t


@pytest.fixture
def noticed(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    collections_run(today=date(2026, 10, 20), actor=Actor())
    assert DunningNotice.objects.get(stage="disconnect").planned_disconnect_on == date(2026, 10, 27)
    return world


def _paid_and_no_open_task():
    r = Receivable.objects.get()
    assert r.principal_paid == r.principal and r.fee_paid == r.fee_charged
    assert not CollectionTask.objects.filter(
        kind="disconnect", status__in=["open", "awaiting_approval"]
    ).exists()
    assert DunningNotice.objects.get(stage="disconnect").case_status == "cancelled"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_payment_holding_the_lock_commits_first_the_run_then_orders_nothing(noticed):
    errors: list[Exception] = []
    paid, release = threading.Event(), threading.Event()

    def payment():
        with transaction.atomic():
            _pay()
            paid.set()
            release.wait(30)

    counts = {}
    p = _thread(payment, errors)
    assert paid.wait(30)
    r = _thread(lambda: counts.update(collections_run(today=date(2026, 10, 27), actor=Actor())), errors)
    _wait_until_blocked()  # the run waits for the account the payment holds
    release.set()
    p.join(60)
    r.join(60)
    assert not errors
    # The payment's own hook cancelled the pending notice; the run, after the lock, orders nothing.
    assert counts["disconnect_tasks"] == 0 and counts["cancelled"] == 0
    _paid_and_no_open_task()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_run_holding_the_lock_commits_first_the_payment_then_cancels_the_task(noticed):
    errors: list[Exception] = []
    ran, release = threading.Event(), threading.Event()
    counts = {}

    def run():
        with transaction.atomic():
            counts.update(collections_run(today=date(2026, 10, 27), actor=Actor()))
            ran.set()
            release.wait(30)

    r = _thread(run, errors)
    assert ran.wait(30)
    p = _thread(_pay, errors)
    _wait_until_blocked()  # the payment waits for the account the run holds
    release.set()
    r.join(60)
    p.join(60)
    assert not errors
    assert counts["disconnect_tasks"] == 1  # ordered by the run …
    assert CollectionTask.objects.get().status == "cancelled"  # … and cancelled by the payment's hook
    _paid_and_no_open_task()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_write_once(noticed):
    errors: list[Exception] = []
    results: list[dict] = []
    threads = [
        _thread(lambda: results.append(collections_run(today=date(2026, 10, 27), actor=Actor())), errors)
        for _ in range(2)
    ]
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(r["disconnect_tasks"] for r in results) == [0, 1]
    assert CollectionTask.objects.count() == 1


# ---------------------------------------------------------------- a bounced payment against the reconnection


@pytest.fixture
def reconnecting(noticed):
    """Disconnected 28 Oct, paid 29 Oct (100.00 + 100 × 0.001 × 39 days = 3.90 → 103.90): reconnection open."""
    from gridcare.core.permissions import Role
    from gridcare.payments.collections.services import collection_task_done
    from tests.factories import UserFactory
    from tests.payments.ledger.test_ledger import pay

    w = noticed
    w.crew = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=w.bureau_a)
    collections_run(today=date(2026, 10, 27), actor=Actor())
    collection_task_done(
        actor=Actor(user=w.crew),
        task=CollectionTask.objects.get(kind="disconnect"),
        done_at=timezone.make_aware(datetime(2026, 10, 28, 10)),  # noqa: DTZ001
        now=timezone.make_aware(datetime(2026, 10, 28, 11)),  # noqa: DTZ001
    )
    w.payment = pay("103.90", date(2026, 10, 29), "CHQ-PG").payment
    assert CollectionTask.objects.get(kind="reconnect").status == "open"
    return w


def _reconnect_done(w):
    from gridcare.payments.collections.services import collection_task_done

    collection_task_done(actor=Actor(user=w.crew), task=CollectionTask.objects.get(kind="reconnect"))


def _reverse(w):
    services.payment_reverse(actor=Actor(user=w.admin), payment=w.payment, reason="支票退票")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_reversal_holding_the_lock_then_the_crew_cannot_reconnect(reconnecting):
    from django.core.exceptions import ValidationError

    w = reconnecting
    errors: list[Exception] = []
    reversed_, release = threading.Event(), threading.Event()

    def reversal():
        with transaction.atomic():
            _reverse(w)
            reversed_.set()
            release.wait(30)

    r = _thread(reversal, errors)
    assert reversed_.wait(30)
    d = _thread(lambda: _reconnect_done(w), errors)
    _wait_until_blocked()  # the crew's record waits for the account the reversal holds
    release.set()
    r.join(60)
    d.join(60)
    # The reversal cancelled the task; the crew's record, reading it after the lock, is refused.
    assert len(errors) == 1 and isinstance(errors[0], ValidationError)
    assert CollectionTask.objects.get(kind="reconnect").status == "cancelled"
    assert DunningNotice.objects.get(stage="disconnect").case_status == "disconnected"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_reconnected_first_then_the_bounce_restarts_dunning_for_the_same_bill(reconnecting):
    w = reconnecting
    errors: list[Exception] = []
    done, release = threading.Event(), threading.Event()

    def crew():
        with transaction.atomic():
            _reconnect_done(w)
            done.set()
            release.wait(30)

    d = _thread(crew, errors)
    assert done.wait(30)
    r = _thread(lambda: _reverse(w), errors)
    _wait_until_blocked()  # the reversal waits for the account the crew's record holds
    release.set()
    d.join(60)
    r.join(60)
    assert not errors
    first = DunningNotice.objects.get(stage="disconnect")
    assert first.case_status == "closed"  # reconnected: the reversal finds no open case
    # The closed case does not block the same bill: the next run notices again.
    assert collections_run(today=date(2026, 10, 30), actor=Actor())["disconnect_notices"] == 1
    second = DunningNotice.objects.filter(stage="disconnect").exclude(pk=first.pk).get()
    assert (second.receivable_id, second.case_status) == (first.receivable_id, "pending")
