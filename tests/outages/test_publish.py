"""Publishing and its notices with an injected clock: 168 h before a planned start exactly is allowed, one second
later is refused (24 h for temporary maintenance); publishing freezes the scope and queues one `outage` notice per
affected account once; important customers are listed for one-by-one contact; changes, cancellations and fault
entries tell everyone; the start_due job starts what is due."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.jobs.registry import KINDS, SCHEDULES
from gridcare.notify.models import Notification
from gridcare.outages import services as s
from gridcare.outages.models import AffectedAccount, ImportantContact, Interruption, OutageArea, OutageEvent
from tests.factories import UserFactory

CN = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 10, 8, tzinfo=CN)
END = datetime(2025, 3, 10, 16, tzinfo=CN)
CREATED = datetime(2025, 2, 20, 9, tzinfo=CN)


@pytest.fixture
def who(grid):
    w = grid.world
    dispatcher = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    return type("Who", (), {"draft": Actor(user=dispatcher), "approve": Actor(user=w.a_manager)})


def approved(
    who, *, kind="planned", scope=(("feeder", "F1"),), start=START, end=END, title="10kV东关一线检修"
):
    ev = s.outage_create(
        actor=who.draft,
        kind=kind,
        cause_category="maintenance",
        title=title,
        scope=list(scope),
        planned_start=start,
        planned_end=end,
        now=CREATED,
    )
    s.outage_submit(actor=who.draft, event=ev, now=CREATED)
    return s.outage_approve(actor=who.approve, event=ev, now=CREATED)


def _keys(kind):
    return set(Notification.objects.filter(kind=kind).values_list("dedupe_key", flat=True))


def accounts_told(kind):
    return set(Notification.objects.filter(kind=kind).values_list("account_id", flat=True))


def test_planned_notice_168_hours_exactly_is_allowed_one_second_less_is_refused(grid, who):
    ev = approved(who)
    # 2025-03-10 08:00 − 168 h = 2025-03-03 08:00; one second later leaves 167 h 59 min 59 s
    with pytest.raises(ValidationError) as err:
        s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 3, 8, 0, 1, tzinfo=CN))
    assert err.value.message_dict["planned_start"] == [
        "计划停电须提前 168 小时发布（距停电开始仅 167.9 小时）"
    ]
    ev.refresh_from_db()
    assert ev.status == "approved" and ev.frozen_at is None
    assert not OutageArea.objects.filter(event=ev).exists() and not Notification.objects.exists()
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 3, 8, tzinfo=CN))
    ev.refresh_from_db()
    assert ev.status == "published" and ev.actual_start is None  # frozen, not started
    # F1 = T1 (4 accounts) + T2 (3 accounts) = 7, each interruption open from the planned start
    assert ev.customers == 7
    assert set(Interruption.objects.filter(event=ev).values_list("customers", "start", "end")) == {
        (4, START, None),
        (3, START, None),
    }


def test_temporary_maintenance_needs_24_hours(grid, who):
    ev = approved(who, kind="temporary", scope=[("area", "T3")])
    with pytest.raises(ValidationError) as err:
        s.outage_publish(actor=who.approve, event=ev, now=START - timedelta(hours=24) + timedelta(seconds=1))
    assert "须提前 24 小时发布" in err.value.message_dict["planned_start"][0]
    assert OutageEvent.objects.get(pk=ev.pk).status == "approved"
    s.outage_publish(actor=who.approve, event=ev, now=START - timedelta(hours=24))
    assert OutageEvent.objects.get(pk=ev.pk).status == "published"


def test_publishing_queues_one_outage_notice_per_account_once(grid, who):
    ev = approved(who)
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    f1 = {a.pk for a in grid.accounts["T1"] + grid.accounts["T2"]}
    assert accounts_told("outage") == f1
    rows = Notification.objects.filter(kind="outage").count()
    stems = {k for k in _keys("outage")}
    assert all(f"outage:{ev.pk}:" in k and ":v1" in k for k in stems)
    body = Notification.objects.filter(kind="outage").first().body
    assert "东关1号台区、东关2号台区" in body and "10kV东关一线检修" in body
    # publishing again is refused and writes nothing; neither does a retried enqueue of the same keys
    with pytest.raises(ValidationError) as err:
        s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    assert "status" in err.value.message_dict
    assert s._enqueue(ev, "outage", s._affected_rows(ev), "outage:{event}:{account}:v{version}") == 0
    assert Notification.objects.filter(kind="outage").count() == rows


def test_important_customers_are_listed_for_one_by_one_contact(grid, who):
    ev = approved(who, kind="temporary")
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    important = grid.accounts["T2"][0]
    contact = ImportantContact.objects.get(event=ev)
    assert contact.account_id == important.pk and contact.contacted_at is None
    with pytest.raises(ValidationError) as err:
        s.outage_contact_record(
            actor=who.draft,
            event=ev,
            account_number=grid.accounts["T1"][0].account_number,
            method="fax",
            confirmed_by_name="",
        )
    assert set(err.value.message_dict) == {"account_number", "method", "confirmed_by_name"}
    at = datetime(2025, 3, 1, 10, tzinfo=CN)
    s.outage_contact_record(
        actor=who.draft,
        event=ev,
        account_number=important.account_number,
        method="phone",
        confirmed_by_name="王电工",
        at=at,
    )
    contact.refresh_from_db()
    assert (contact.method, contact.confirmed_by_name, contact.contacted_at) == ("phone", "王电工", at)


def test_a_planned_event_lists_important_customers_too(grid, who):
    ev = approved(who, scope=[("area", "T2")])
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    assert list(ImportantContact.objects.filter(event=ev).values_list("account_id", flat=True)) == [
        grid.accounts["T2"][0].pk
    ]


def test_a_change_of_times_bumps_the_version_and_tells_everyone_again(grid, who):
    ev = approved(who)
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    later = datetime(2025, 3, 1, 12, tzinfo=CN)
    # the notice rule is checked again against the new start: 2025-03-07 08:00 is only 140 h away
    with pytest.raises(ValidationError) as err:
        s.outage_update(
            actor=who.approve,
            event=ev,
            planned_start=datetime(2025, 3, 7, 8, tzinfo=CN),
            planned_end=datetime(2025, 3, 7, 16, tzinfo=CN),
            now=later,
        )
    assert "planned_start" in err.value.message_dict
    assert OutageEvent.objects.get(pk=ev.pk).version == 1 and not _keys("outage_change")
    new_start, new_end = datetime(2025, 3, 12, 8, tzinfo=CN), datetime(2025, 3, 12, 18, tzinfo=CN)
    s.outage_update(actor=who.approve, event=ev, planned_start=new_start, planned_end=new_end, now=later)
    ev.refresh_from_db()
    assert ev.version == 2 and (ev.planned_start, ev.planned_end) == (new_start, new_end)
    assert accounts_told("outage_change") == {a.pk for a in grid.accounts["T1"] + grid.accounts["T2"]}
    assert all(":v2" in k for k in _keys("outage_change"))
    # refrozen at the new start; estimate = 7 customers × 10 h
    assert set(Interruption.objects.filter(event=ev).values_list("start", flat=True)) == {new_start}
    assert set(OutageArea.objects.filter(event=ev).values_list("est_restoration", flat=True)) == {new_end}
    assert str(ev.est_customer_hours) == "70.00"


def test_a_smaller_scope_tells_the_dropped_accounts_it_is_cancelled_for_them(grid, who):
    ev = approved(who)
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    s.outage_update(
        actor=who.approve, event=ev, scope=[("area", "T1")], now=datetime(2025, 3, 1, 12, tzinfo=CN)
    )
    ev.refresh_from_db()
    assert ev.version == 2 and ev.customers == 4
    assert accounts_told("outage_cancel") == {a.pk for a in grid.accounts["T2"]}
    assert accounts_told("outage_change") == {a.pk for a in grid.accounts["T1"]}
    assert set(AffectedAccount.objects.filter(event=ev).values_list("account_id", flat=True)) == {
        a.pk for a in grid.accounts["T1"]
    }
    assert not ImportantContact.objects.filter(
        event=ev
    ).exists()  # the important customer is out of scope now


def test_cancelling_a_published_event_tells_everyone_and_drops_the_frozen_rows(grid, who):
    ev = approved(who)
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    with pytest.raises(PermissionDenied):  # a dispatcher may cancel drafts, not a published outage
        s.outage_cancel(actor=who.draft, event=ev, reason="天气原因")
    with pytest.raises(ValidationError) as err:
        s.outage_cancel(actor=who.approve, event=ev, reason=" ")
    assert "reason" in err.value.message_dict
    assert not _keys("outage_cancel")
    s.outage_cancel(actor=who.approve, event=ev, reason="天气原因", now=datetime(2025, 3, 2, 9, tzinfo=CN))
    ev.refresh_from_db()
    assert ev.status == "cancelled" and ev.cancel_reason == "天气原因"
    assert accounts_told("outage_cancel") == {a.pk for a in grid.accounts["T1"] + grid.accounts["T2"]}
    assert (
        not OutageArea.objects.filter(event=ev).exists()
        and not AffectedAccount.objects.filter(event=ev).exists()
    )
    assert not Interruption.objects.filter(event=ev).exists()


def test_a_fault_is_in_progress_frozen_and_notified_at_once(grid, who):
    at = datetime(2025, 6, 1, 14, 20, tzinfo=CN)
    ev = s.outage_create(
        actor=who.draft,
        kind="fault",
        cause_category="lightning",
        title="雷击跳闸",
        scope=[("feeder", "F2")],
        planned_start=at,
        planned_end=at + timedelta(hours=3),
        now=at + timedelta(minutes=5),
    )
    assert ev.status == "in_progress" and ev.actual_start == at and ev.number == "TD202506010001"
    assert accounts_told("outage") == {a.pk for a in grid.accounts["T3"]}
    # 2 customers × 3 h
    assert str(ev.est_customer_hours) == "6.00"
    # a planned outage on the same area at the same time is another kind: not a duplicate
    planned = s.outage_create(
        actor=who.draft,
        kind="planned",
        cause_category="maintenance",
        title="检修",
        scope=[("area", "T3")],
        planned_start=at,
        planned_end=at + timedelta(hours=2),
        now=at,
    )
    assert planned.number == "TD202506010002" and planned.status == "draft"
    # a second fault on T3 overlapping the first is a duplicate
    with pytest.raises(ValidationError) as err:
        s.outage_create(
            actor=who.draft,
            kind="fault",
            cause_category="lightning",
            title="重复",
            scope=[("area", "T3")],
            planned_start=at + timedelta(hours=1),
            planned_end=at + timedelta(hours=2),
            now=at,
        )
    assert ev.number in err.value.message_dict["scope"][0]


def test_start_due_job_starts_published_events_whose_start_has_come(grid, who):
    ev = approved(who)
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    assert s.outages_start_due(now=START - timedelta(seconds=1)) == {"started": 0}
    assert s.outages_start_due(now=START) == {"started": 1}
    ev.refresh_from_db()
    assert ev.status == "in_progress" and ev.actual_start == START
    assert s.outages_start_due(now=START + timedelta(minutes=5)) == {"started": 0}
    assert "outages.start_due" in KINDS
    assert (SCHEDULES["outages.start_due"].every, SCHEDULES["outages.start_due"].period) == (5, "minutes")


def test_starting_by_hand_moves_the_interruptions_to_the_real_start(grid, who):
    ev = approved(who, scope=[("area", "T1")])
    s.outage_publish(actor=who.approve, event=ev, now=datetime(2025, 3, 1, 9, tzinfo=CN))
    real = datetime(2025, 3, 9, 23, 50, tzinfo=CN)  # ten minutes early, the day before
    with pytest.raises(ValidationError) as err:  # not in the future
        s.outage_start(actor=who.draft, event=ev, at=real, now=real - timedelta(seconds=1))
    assert "at" in err.value.message_dict
    assert OutageEvent.objects.get(pk=ev.pk).status == "published"
    s.outage_start(actor=who.draft, event=ev, at=real, now=real)
    ev.refresh_from_db()
    assert ev.actual_start == real
    assert list(Interruption.objects.filter(event=ev).values_list("start", "day")) == [(real, real.date())]
