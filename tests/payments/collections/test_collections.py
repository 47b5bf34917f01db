"""Collections (催费): the dunning timeline with an injected clock, hand-computed dates.

Default policy: reminder 3 days before the due date, overdue notice 1 day after, disconnection notice once
the oldest unpaid bill is 30 days past due and the overdue arrears are ≥ 50.00, planned 7 days ahead for
residential customers and 3 for others, reconnection due 24 h after the payment.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.choices import CustomerClass, Segment
from gridcare.payments.collections import services as collections
from gridcare.payments.collections.services import (
    account_protection_set,
    collection_task_approve,
    collection_task_done,
    collection_task_reject,
    collections_run,
)
from gridcare.payments.models import CollectionTask, DunningNotice, DunningPolicy
from tests.factories import CustomerFactory, UserFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill, pay

D = Decimal
JOB = Actor()


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))  # noqa: DTZ001


def run(day: date) -> dict[str, int]:
    return collections_run(today=day, actor=JOB)


def notices(account, stage):
    return list(DunningNotice.objects.filter(account=account, stage=stage).order_by("id"))


@pytest.fixture
def clerk(world):
    """A billing clerk of bureau A: COLLECTIONS_MANAGE, not DISCONNECT_APPROVE."""
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def commercial(world):
    cust = CustomerFactory(
        name="东关商店", unit=world.station_a, customer_class=CustomerClass.COMMERCIAL, segment=Segment.SME
    )
    return make_account(cust, "3100000002", world.area_a, address="东关镇商业街3号")


@pytest.fixture
def seam(monkeypatch):
    """The notice ids handed to the outbox seam."""
    calls: list[list[int]] = []
    monkeypatch.setattr(collections, "on_dunning_notices", lambda ids: calls.append(list(ids)))
    return calls


def test_default_policy_is_seeded(db):
    # Called as the migration calls it (transactional tests elsewhere may have flushed the seeded row).
    from importlib import import_module

    from django.apps import apps

    seed = import_module("gridcare.payments.migrations.0007_collections").seed_default_policy
    seed(apps, None)
    seed(apps, None)  # idempotent
    p = DunningPolicy.objects.get(unit__isnull=True)
    assert (
        p.reminder_days_before,
        p.overdue_days_after,
        p.disconnect_after_days,
        p.disconnect_min_arrears,
        p.notice_days_residential,
        p.notice_days_other,
        p.reconnect_hours,
    ) == (3, 1, 30, D("50.00"), 7, 3, 24)


def test_residential_timeline_to_disconnection_and_reconnection(
    world, clerk, seam, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _residential_timeline(world, clerk)
    # The seam got every notice on commit: reminder, overdue, disconnection, then the reconnection notice.
    flat = [i for ids in seam for i in ids]
    assert sorted(flat) == sorted(DunningNotice.objects.values_list("pk", flat=True)) and len(flat) == 4


def _residential_timeline(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    # Due 20 September: 4 days before (16th) nothing, 3 days before (17th) the reminder.
    assert run(date(2026, 9, 16))["reminders"] == 0
    assert run(date(2026, 9, 17))["reminders"] == 1
    assert run(date(2026, 9, 20))["reminders"] == 0  # already reminded
    assert [n.notice_date for n in notices(world.acct_a, "reminder")] == [date(2026, 9, 17)]
    # The day after the due date: the overdue notice.
    assert run(date(2026, 9, 20))["overdue_notices"] == 0
    assert run(date(2026, 9, 21))["overdue_notices"] == 1
    # 20 Sep + 30 days = 20 October: the disconnection notice, 29 days (19 Oct) is too early.
    assert run(date(2026, 10, 19))["disconnect_notices"] == 0
    assert run(date(2026, 10, 20))["disconnect_notices"] == 1
    (notice,) = notices(world.acct_a, "disconnect")
    # Residential: 20 Oct + 7 days = 27 October; the amount to pay that day: 100.00 + the fee accrued
    # 20 Sep → 20 Oct, 100 × 0.001 × 30 days = 3.00 → 103.00.
    assert (notice.notice_date, notice.planned_disconnect_on, notice.arrears) == (
        date(2026, 10, 20),
        date(2026, 10, 27),
        D("103.00"),
    )
    assert run(date(2026, 10, 26))["disconnect_tasks"] == 0  # the day before the planned date: no task
    counts = run(date(2026, 10, 27))
    assert (counts["disconnect_tasks"], counts["awaiting_approval"]) == (1, 0)
    task = CollectionTask.objects.get(kind="disconnect")
    assert task.status == "open" and timezone.localtime(task.due_at).date() == date(2026, 10, 27)
    # Idempotent: the same day again writes nothing.
    n = (DunningNotice.objects.count(), CollectionTask.objects.count())
    assert set(run(date(2026, 10, 27)).values()) == {0}
    assert (DunningNotice.objects.count(), CollectionTask.objects.count()) == n
    # The crew disconnects on 28 October 10:00.
    collection_task_done(
        actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 11)
    )
    notice.refresh_from_db()
    assert notice.case_status == "disconnected"
    # Paid in full on 29 October 10:00: 100.00 + fee 100 × 0.001 × 39 days (20 Sep → 29 Oct) = 3.90.
    pay("103.90", date(2026, 10, 29), "R1")
    reconnect = CollectionTask.objects.get(kind="reconnect")
    assert reconnect.status == "open" and reconnect.due_at == at(date(2026, 10, 30))  # 29 Oct 10:00 + 24 h
    notice.refresh_from_db()
    assert notice.case_status == "reconnecting"
    assert DunningNotice.objects.filter(stage="reconnect").count() == 1
    assert run(date(2026, 10, 30))["reconnect_tasks"] == 0  # the catch-up finds it done already
    collection_task_done(
        actor=Actor(user=clerk),
        task=reconnect,
        done_at=at(date(2026, 10, 29), 16),
        now=at(date(2026, 10, 29), 17),
    )
    notice.refresh_from_db()
    assert notice.case_status == "closed"
    assert {"collections.disconnect_done", "collections.reconnect_done"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )


def test_commercial_notice_three_days_ahead_and_payment_before_cancels(world, commercial):
    issued_bill(commercial, "2026-08", "200.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    (notice,) = notices(commercial, "disconnect")
    assert notice.planned_disconnect_on == date(2026, 10, 23)  # 20 Oct + 3 days
    # Paid on 22 October: commercial fee 200 × 0.002 × 32 days (20 Sep → 22 Oct) = 12.80 → 212.80.
    pay("212.80", date(2026, 10, 22), "C1", account_number="3100000002")
    notice.refresh_from_db()
    assert notice.case_status == "cancelled"
    assert run(date(2026, 10, 23))["disconnect_tasks"] == 0
    assert not CollectionTask.objects.exists()


def test_run_cancels_a_task_of_an_account_paid_since(world):
    bill = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    # The arrears leave by another way than a payment (the bill is cancelled): the run's catch-up cancels.
    from gridcare.payments.ledger.services import receivable_cancel

    receivable_cancel(bill_id=bill.pk, reason="错发", cancelled_at=at(date(2026, 10, 28)))
    assert run(date(2026, 10, 28))["cancelled"] == 1
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_small_arrears_get_no_disconnection_notice(world):
    issued_bill(world.acct_a, "2026-08", "49.99", date(2026, 9, 20))
    assert run(date(2026, 10, 20))["disconnect_notices"] == 0  # 49.99 < 50.00


@pytest.mark.parametrize("flag", ["important", "protected"])
def test_important_or_protected_awaits_approval_and_cannot_be_done_before(world, clerk, flag):
    if flag == "important":
        world.cust_a.segment = Segment.IMPORTANT
        world.cust_a.save()
    else:
        account_protection_set(
            actor=Actor(user=world.a_clerk), account=world.acct_a, protected=True, reason="家中有呼吸机"
        )
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    counts = run(date(2026, 10, 27))
    assert (counts["disconnect_tasks"], counts["awaiting_approval"]) == (1, 1)
    task = CollectionTask.objects.get()
    assert task.status == "awaiting_approval" and task.requires_approval
    with pytest.raises(ValidationError):
        collection_task_done(actor=Actor(user=clerk), task=task, now=at(date(2026, 10, 28)))
    task.refresh_from_db()
    assert task.status == "awaiting_approval" and task.done_at is None
    # Approval by the wrong role or unit: refused, nothing changed.
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)
    for user in (clerk, b_manager, world.a_clerk, world.admin):
        with pytest.raises(PermissionDenied):
            collection_task_approve(actor=Actor(user=user), task=task)
        with pytest.raises(PermissionDenied):
            collection_task_reject(actor=Actor(user=user), task=task, reason="x")
    task.refresh_from_db()
    assert task.status == "awaiting_approval" and task.decided_by is None
    assert not AuditEvent.objects.filter(action__startswith="collections.task_").exists()
    collection_task_approve(actor=Actor(user=world.a_manager), task=task)
    task.refresh_from_db()
    assert task.status == "open" and task.decided_by == world.a_manager
    collection_task_done(
        actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 12)
    )
    assert CollectionTask.objects.get().status == "done"


def test_reject_needs_a_reason_and_closes_the_case(world):
    world.cust_a.segment = Segment.IMPORTANT
    world.cust_a.save()
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    with pytest.raises(ValidationError):
        collection_task_reject(actor=Actor(user=world.a_manager), task=task, reason="  ")
    collection_task_reject(actor=Actor(user=world.a_manager), task=task, reason="医院，协商分期缴费")
    task.refresh_from_db()
    assert task.status == "rejected" and task.reject_reason == "医院，协商分期缴费"
    assert DunningNotice.objects.get(stage="disconnect").case_status == "rejected"
    # The same oldest bill does not trigger the procedure again the next days.
    assert run(date(2026, 10, 28))["disconnect_notices"] == 0
    with pytest.raises(ValidationError):
        collection_task_done(
            actor=Actor(user=UserFactory(role=Role.BILLING_CLERK, unit=world.bureau_a)), task=task
        )


def test_done_needs_collections_manage_of_the_unit(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    b_clerk = UserFactory(role=Role.BILLING_CLERK, unit=world.bureau_b)
    for user in (b_clerk, world.a_manager, world.a_clerk):
        with pytest.raises(PermissionDenied):
            collection_task_done(actor=Actor(user=user), task=task, now=at(date(2026, 10, 28)))
    with pytest.raises(ValidationError):  # in the future
        collection_task_done(
            actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 29)), now=at(date(2026, 10, 28))
        )
    assert CollectionTask.objects.get().status == "open"


def test_payment_hook_is_one_query_without_an_open_case(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        collections.collections_on_payment(account_id=world.acct_a.pk, now=timezone.now())


def test_protection_service(world):
    with pytest.raises(PermissionDenied):  # a 95598 agent may not edit
        account_protection_set(
            actor=Actor(user=world.a_agent), account=world.acct_a, protected=True, reason="x"
        )
    with pytest.raises(PermissionDenied):  # another bureau
        account_protection_set(
            actor=Actor(user=world.b_clerk), account=world.acct_a, protected=True, reason="x"
        )
    with pytest.raises(ValidationError):
        account_protection_set(
            actor=Actor(user=world.a_clerk), account=world.acct_a, protected=True, reason=""
        )
    world.acct_a.refresh_from_db()
    assert not world.acct_a.protected
    account_protection_set(
        actor=Actor(user=world.a_clerk), account=world.acct_a, protected=True, reason="医疗设备"
    )
    world.acct_a.refresh_from_db()
    assert (world.acct_a.protected, world.acct_a.protected_reason) == (True, "医疗设备")
    ev = AuditEvent.objects.get(action="account.protection")
    assert ev.changes["protected"] == [False, True]


def test_unit_policy_overrides_the_default(world, commercial):
    DunningPolicy.objects.create(unit=world.bureau_a, reminder_days_before=5, notice_days_other=5)
    issued_bill(commercial, "2026-08", "200.00", date(2026, 9, 20))
    assert run(date(2026, 9, 15))["reminders"] == 1  # 5 days before
    run(date(2026, 10, 20))
    assert DunningNotice.objects.get(stage="disconnect").planned_disconnect_on == date(2026, 10, 25)


def test_a_persons_run_covers_their_units_only(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    issued_bill(world.acct_b, "2026-08", "100.00", date(2026, 9, 20))
    assert collections_run(today=date(2026, 9, 17), actor=Actor(user=clerk))["reminders"] == 1
    with pytest.raises(PermissionDenied):
        collections_run(today=date(2026, 9, 17), actor=Actor(user=world.a_manager))
    assert run(date(2026, 9, 17))["reminders"] == 1  # the job: bureau B's bill


def test_reconnect_catch_up_by_the_run(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    collection_task_done(
        actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 11)
    )
    # A waiver-free way to clear arrears without the hook: cancel the bill; then the run reconnects.
    from gridcare.payments.ledger.services import receivable_cancel

    receivable_cancel(
        bill_id=task.notice.receivable.bill_id, reason="错发", cancelled_at=at(date(2026, 10, 29))
    )
    assert run(date(2026, 10, 29))["reconnect_tasks"] == 1
    rt = CollectionTask.objects.get(kind="reconnect")
    assert rt.due_at == at(date(2026, 10, 29), 8) + timedelta(hours=24)  # no payment: the run's time + 24 h


def test_commercial_task_on_the_planned_date_not_before(world, commercial):
    issued_bill(commercial, "2026-08", "200.00", date(2026, 9, 20))
    run(date(2026, 10, 20))  # notice: planned 20 Oct + 3 = 23 October
    assert run(date(2026, 10, 22))["disconnect_tasks"] == 0
    assert run(date(2026, 10, 23))["disconnect_tasks"] == 1
    assert CollectionTask.objects.get().status == "open"  # an SME customer, not protected: no approval


def test_a_partial_payment_does_not_cancel(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    # 22 October: fee 100 × 0.001 × 32 days = 3.20 is paid first, then 46.80 of the principal: 53.20 still owed.
    pay("50.00", date(2026, 10, 22), "P1")
    assert DunningNotice.objects.get(stage="disconnect").case_status == "pending"
    run(date(2026, 10, 27))
    assert CollectionTask.objects.get().arrears == D("53.20")


def test_a_missed_day_catches_up_until_the_due_date(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    # The job did not run on the 17th: the 18th still reminds (within 3 days); the 21st is past due.
    assert run(date(2026, 9, 18))["reminders"] == 1
    assert run(date(2026, 9, 21))["reminders"] == 0


def test_bad_date_is_refused(db):
    with pytest.raises(ValidationError):
        collections_run(today="2026-10-01", actor=JOB)


# ---------------------------------------------------------------- review fixes: bounced payments, approval,
# the announced amount, future days, back-dated payments


def _reverse(world, payment, reason="支票退票"):
    from gridcare.payments.ledger.services import payment_reverse

    return payment_reverse(actor=Actor(user=world.admin), payment=payment, reason=reason)


def test_paying_the_announced_amount_on_the_notice_day_cancels_the_case(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    notice = DunningNotice.objects.get(stage="disconnect")
    # 100.00 + fee 20 Sep → 20 Oct: 100 × 0.001 × 30 days = 3.00.
    assert notice.arrears == D("103.00")
    pay("103.00", date(2026, 10, 20), "N1")  # exactly what the notice said, on its day
    notice.refresh_from_db()
    assert notice.case_status == "cancelled"
    assert run(date(2026, 10, 27))["disconnect_tasks"] == 0
    r = notice.receivable
    r.refresh_from_db()
    assert (r.principal_paid, r.fee_charged, r.fee_paid) == (D("100.00"), D("3.00"), D("3.00"))


def test_announced_amount_counts_every_overdue_bill_with_the_fee_minimum_not_bills_not_yet_due(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    issued_bill(world.acct_a, "2026-09", "60.00", date(2026, 10, 10))
    # Not yet due (neither on 20 Oct nor today, so the payment hook, judging as of today, ignores it too).
    later = timezone.localdate() + timedelta(days=30)
    issued_bill(world.acct_a, f"{later:%Y-%m}", "80.00", later)
    run(date(2026, 10, 20))
    notice = DunningNotice.objects.get(stage="disconnect")
    # Aug: 100.00 + 100 × 0.001 × 30 = 3.00; Sep: 60.00 + 60 × 0.001 × 10 = 0.60, nothing charged yet →
    # max(0.60, 1.00) − 0.00 = 1.00 (the bill's minimum); 100.00 + 3.00 + 60.00 + 1.00 = 164.00.
    assert notice.arrears == D("164.00")
    pay("164.00", date(2026, 10, 20), "N2")
    notice.refresh_from_db()
    assert notice.case_status == "cancelled"


def test_paying_the_announced_amount_later_leaves_the_fee_of_the_extra_days(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))  # announces 103.00 (see above)
    # Paid on 22 October: the fee is now 100 × 0.001 × 32 = 3.20, paid first; 99.80 of the principal is paid,
    # 0.20 is still owed: the case goes on and the task of 27 October is for 0.20.
    pay("103.00", date(2026, 10, 22), "N3")
    assert DunningNotice.objects.get(stage="disconnect").case_status == "pending"
    assert run(date(2026, 10, 27))["disconnect_tasks"] == 1
    assert CollectionTask.objects.get().arrears == D("0.20")


def test_bounced_payment_after_a_cancelled_case_restarts_dunning_for_the_same_bill(world, seam):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    first = DunningNotice.objects.get(stage="disconnect")
    rec = pay("103.00", date(2026, 10, 20), "CHQ1")
    first.refresh_from_db()
    assert first.case_status == "cancelled"
    _reverse(world, rec.payment)
    counts = run(date(2026, 10, 21))
    assert counts["disconnect_notices"] == 1
    second = DunningNotice.objects.filter(stage="disconnect").exclude(pk=first.pk).get()
    # The same oldest bill. 21 Oct: principal 100.00 + the fee charged on 20 Oct (3.00, its payment reversed)
    # + 1 more day 100 × 0.001 × 1 = 0.10 → 103.10; planned 21 Oct + 7 = 28 October.
    assert (second.receivable_id, second.case_status, second.arrears, second.planned_disconnect_on) == (
        first.receivable_id,
        "pending",
        D("103.10"),
        date(2026, 10, 28),
    )
    assert set(run(date(2026, 10, 22)).values()) == {0}  # one open case: no third notice
    assert run(date(2026, 10, 28))["disconnect_tasks"] == 1


def test_a_rejected_case_still_blocks_the_same_bill_by_constraint(world):
    from django.db import IntegrityError, transaction

    world.cust_a.segment = Segment.IMPORTANT
    world.cust_a.save()
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    collection_task_reject(
        actor=Actor(user=world.a_manager), task=CollectionTask.objects.get(), reason="医院"
    )
    assert run(date(2026, 11, 3))["disconnect_notices"] == 0
    rejected = DunningNotice.objects.get(stage="disconnect")
    with pytest.raises(IntegrityError), transaction.atomic():
        DunningNotice.objects.create(
            stage="disconnect",
            account=world.acct_a,
            unit=rejected.unit,
            receivable=rejected.receivable,
            notice_date=date(2026, 11, 3),
            case_status="rejected",
            created_at=at(date(2026, 11, 3)),
        )


def _disconnected(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    collection_task_done(
        actor=Actor(user=clerk),
        task=CollectionTask.objects.get(kind="disconnect"),
        done_at=at(date(2026, 10, 28)),
        now=at(date(2026, 10, 28), 11),
    )


def test_bounced_payment_cancels_the_open_reconnection_task(world, clerk):
    _disconnected(world, clerk)
    # 29 Oct: 100.00 + 100 × 0.001 × 39 days (20 Sep → 29 Oct) = 3.90 → 103.90.
    rec = pay("103.90", date(2026, 10, 29), "CHQ2")
    task = CollectionTask.objects.get(kind="reconnect")
    assert task.status == "open"
    _reverse(world, rec.payment, reason="支票退票")
    task.refresh_from_db()
    case = DunningNotice.objects.get(stage="disconnect")
    assert (task.status, case.case_status) == ("cancelled", "disconnected")
    assert task.cancelled_at is not None and "103.90" in task.note and "支票退票" in task.note
    ev = AuditEvent.objects.get(action="collections.reconnect_cancel")
    assert ev.changes["case_status"] == ["reconnecting", "disconnected"] and ev.changes["tasks"] == [task.pk]
    # Paid again on 30 Oct: 103.90 + 1 more day 100 × 0.001 = 0.10 → 104.00: a new reconnection task.
    pay("104.00", date(2026, 10, 30), "R2")
    again = CollectionTask.objects.get(kind="reconnect", status="open")
    assert again.pk != task.pk and again.due_at == at(date(2026, 10, 31))  # 30 Oct 10:00 + 24 h
    assert DunningNotice.objects.get(stage="disconnect").case_status == "reconnecting"


def test_reversal_that_other_credit_covers_keeps_the_reconnection(world, clerk):
    _disconnected(world, clerk)
    rec = pay("103.90", date(2026, 10, 29), "CHQ3")  # pays it all (see above)
    pay("200.00", date(2026, 10, 29), "R3")  # nothing left to pay: 200.00 stays as credit
    _reverse(world, rec.payment)
    # The credit pays the re-opened 103.90 (the fee stays charged through 29 Oct; the reversal re-applies the
    # credit on the real date, charging the days since): no arrears, the reconnection stays.
    assert CollectionTask.objects.get(kind="reconnect").status == "open"
    assert DunningNotice.objects.get(stage="disconnect").case_status == "reconnecting"


def test_reversal_hook_is_one_query_without_an_open_case(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        collections.collections_on_reversal(account_id=world.acct_a.pk, now=timezone.now())


def test_protection_flagged_after_the_task_sends_it_to_the_manager(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    assert task.status == "open"
    account_protection_set(
        actor=Actor(user=world.a_clerk), account=world.acct_a, protected=True, reason="家中有呼吸机"
    )
    task.refresh_from_db()
    assert (task.status, task.requires_approval, task.approval_reason) == (
        "awaiting_approval",
        True,
        "保护用户",
    )
    assert AuditEvent.objects.get(action="account.protection").changes["tasks_to_approval"] == [task.pk]
    with pytest.raises(ValidationError):
        collection_task_done(actor=Actor(user=clerk), task=task, now=at(date(2026, 10, 28)))
    collection_task_approve(actor=Actor(user=world.a_manager), task=task)
    collection_task_done(
        actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 12)
    )
    assert CollectionTask.objects.get().status == "done"


def test_customer_made_important_after_the_task_is_refused_and_moved_to_approval(world, clerk):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    world.cust_a.segment = Segment.IMPORTANT  # edited on the customer page since the task was ordered
    world.cust_a.save()
    with pytest.raises(ValidationError) as exc:
        collection_task_done(
            actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 11)
        )
    assert "status" in exc.value.message_dict
    task.refresh_from_db()
    # Refused, and the move to the manager is kept: not done, the case still ordered.
    assert (task.status, task.approval_reason, task.done_at) == ("awaiting_approval", "重要客户", None)
    assert DunningNotice.objects.get(stage="disconnect").case_status == "ordered"
    assert AuditEvent.objects.filter(action="collections.task_to_approval").count() == 1
    assert not AuditEvent.objects.filter(action="collections.disconnect_done").exists()


def test_an_approved_task_is_not_sent_back_when_the_account_is_flagged_later(world, clerk):
    world.cust_a.segment = Segment.IMPORTANT
    world.cust_a.save()
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    run(date(2026, 10, 20))
    run(date(2026, 10, 27))
    task = CollectionTask.objects.get()
    collection_task_approve(actor=Actor(user=world.a_manager), task=task)
    account_protection_set(
        actor=Actor(user=world.a_clerk), account=world.acct_a, protected=True, reason="制氧机"
    )
    collection_task_done(
        actor=Actor(user=clerk), task=task, done_at=at(date(2026, 10, 28)), now=at(date(2026, 10, 28), 12)
    )
    assert CollectionTask.objects.get().status == "done"


def test_a_future_day_is_refused_and_nothing_is_written(world, clerk):
    from gridcare.core.models import AuditEvent as Audit

    today = timezone.localdate()
    issued_bill(world.acct_a, f"{today - timedelta(days=70):%Y-%m}", "100.00", today - timedelta(days=40))
    n = (DunningNotice.objects.count(), Audit.objects.filter(action="collections.run").count())
    for actor in (JOB, Actor(user=clerk)):
        with pytest.raises(ValidationError) as exc:
            collections_run(today=today + timedelta(days=1), actor=actor)
        assert "date" in exc.value.message_dict
    # A span that ends tomorrow is refused before its first day runs.
    with pytest.raises(ValidationError):
        collections.dunning_days(start=today - timedelta(days=1), end=today + timedelta(days=1))
    assert (DunningNotice.objects.count(), Audit.objects.filter(action="collections.run").count()) == n
    # Today itself is allowed: the bill is 40 days past due → its overdue and disconnection notices.
    counts = collections_run(today=today, actor=JOB)
    assert (counts["overdue_notices"], counts["disconnect_notices"]) == (1, 1)


def test_back_dated_payment_does_not_clear_bills_due_since(world):
    """A bank debit dated before a newer bill's due date, recorded after it: the case goes on.

    Dates relative to the real today T (residential fee 0.1 %/day in every year)."""
    t = timezone.localdate()
    issued_bill(world.acct_a, f"{t - timedelta(days=70):%Y-%m}", "100.00", t - timedelta(days=40))
    issued_bill(world.acct_a, f"{t - timedelta(days=35):%Y-%m}", "100.00", t - timedelta(days=5))
    run(t - timedelta(days=10))  # the first bill is 30 days past due; the second not yet due
    notice = DunningNotice.objects.get(stage="disconnect")
    assert notice.arrears == D("103.00")  # 100.00 + 100 × 0.001 × 30
    # Dated T−7 (before the second bill's due date T−5): 100.00 + 100 × 0.001 × 33 days = 3.30 → 103.30 pays
    # the first bill; the second (due T−5) is overdue today.
    pay("103.30", t - timedelta(days=7), "BANK1")
    notice.refresh_from_db()
    assert notice.case_status == "pending"
    # Planned T−10 + 7 = T−3: today the task, for the second bill's 100.00 (no fee charged on it yet).
    assert run(t)["disconnect_tasks"] == 1
    assert CollectionTask.objects.get().arrears == D("100.00")


def test_back_dated_payment_does_not_order_reconnection_while_newer_bills_are_overdue(world, clerk):
    t = timezone.localdate()
    issued_bill(world.acct_a, f"{t - timedelta(days=70):%Y-%m}", "100.00", t - timedelta(days=40))
    issued_bill(world.acct_a, f"{t - timedelta(days=35):%Y-%m}", "100.00", t - timedelta(days=3))
    run(t - timedelta(days=10))
    run(t - timedelta(days=3))  # planned T−10 + 7 = T−3: the task
    collection_task_done(
        actor=Actor(user=clerk),
        task=CollectionTask.objects.get(),
        done_at=at(t - timedelta(days=3), 15),
        now=at(t - timedelta(days=3), 16),
    )
    # Dated T−4: 100.00 + 100 × 0.001 × 36 days = 3.60 → 103.60 pays the first bill only; the second bill
    # (due T−3) is overdue today: no reconnection.
    pay("103.60", t - timedelta(days=4), "BANK2")
    assert not CollectionTask.objects.filter(kind="reconnect").exists()
    assert DunningNotice.objects.get(stage="disconnect").case_status == "disconnected"
