"""The work-order clock with an injected `now` (issue 15 §3): the 80 % warning at the exact instant, overdue
escalation to the nearest supervisors with an SMS, each deadline warned and escalated once (a second run writes
nothing), met deadlines and closed orders left alone; the job kinds and their schedule."""

from datetime import datetime, timedelta

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.jobs import registry
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import JobState
from gridcare.notify.models import Notification
from gridcare.service import services
from gridcare.service.choices import Priority
from gridcare.service.clock import clock_tick, supervisors_of_units, warn_due
from gridcare.service.models import WorkOrder, WorkOrderDeadline, WorkOrderEvent

from ..factories import UserFactory

# Thursday 17 September 2026, 10:00 China time: an ordinary week (Friday the 18th is a working day).
RECEIVED = datetime.fromisoformat("2026-09-17T10:00:00+08:00")
CONTACT_DUE = datetime.fromisoformat("2026-09-18T23:59:59+08:00")  # 1 working day after the 17th
# The 80 % instant, by hand: the span is 37 h 59 min 59 s = 136,799 s; 80 % of it is 109,439.2 s
# = 30 h 23 min 59.2 s after Thursday 10:00, i.e. Friday 18 September 16:23:59.2.
WARN_AT = datetime.fromisoformat("2026-09-18T16:23:59.200000+08:00")


def complaint(user, received=RECEIVED, **kw):
    kw.setdefault("account_number", "3100000001")
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE),
        order_type="complaint",
        channel="phone",
        received_at=received,
        now=received,
        **kw,
    ).order


def act(user, order, action, now, **kw):
    return services.work_order_act(
        actor=Actor(user=user, channel=Channel.CONSOLE), order=order, action=action, now=now, **kw
    )


def counts():
    return (
        WorkOrderEvent.objects.count(),
        AuditEvent.objects.count(),
        Notification.objects.count(),
        list(WorkOrderDeadline.objects.order_by("id").values_list("warned_at", "escalated_at")),
        list(WorkOrder.objects.order_by("id").values_list("escalation_level", "priority")),
    )


@pytest.fixture
def managers(svc):
    svc.a_manager.phone = "13900000001"
    svc.a_manager.save()
    # A manager higher up: not the nearest supervisor of station A1's orders while bureau A has one.
    svc.c_manager = UserFactory(
        username="c_manager", role=Role.MANAGER, unit=svc.company, phone="13900000009"
    )
    return svc


def test_the_rule_itself():
    assert WARN_AT - RECEIVED == (CONTACT_DUE - RECEIVED) * 4 / 5
    assert not warn_due(RECEIVED, CONTACT_DUE, WARN_AT - timedelta(microseconds=1))
    assert warn_due(RECEIVED, CONTACT_DUE, WARN_AT)


@pytest.mark.django_db
def test_warning_exactly_at_80_percent_and_once(managers):
    order = complaint(managers.a_agent)
    contact = order.deadlines.get(name="contact")
    assert contact.due_at == CONTACT_DUE

    before = clock_tick(now=datetime.fromisoformat("2026-09-18T16:23:59+08:00"))
    assert before["warned"] == 0 and before["escalated"] == 0
    assert not WorkOrderEvent.objects.filter(action="warn").exists()

    result = clock_tick(now=WARN_AT)
    assert (result["warned"], result["escalated"], result["warned_orders"]) == (1, 0, [order.number])
    contact.refresh_from_db()
    assert contact.warned_at == WARN_AT and contact.escalated_at is None
    [warn] = WorkOrderEvent.objects.filter(order=order, action="warn")
    assert warn.actor is None and warn.actor_label == "系统" and warn.data["deadline"] == "contact"
    assert "2026-09-18 23:59" in warn.note
    # The reply (7 working days: 18, Sunday 20 (调休上班), 21–24, then 28 after the Mid-Autumn break) is far from
    # its 80 %.
    assert order.deadlines.get(name="reply").warned_at is None
    assert AuditEvent.objects.filter(action="service.clock", changes={"warned": 1, "escalated": 0}).exists()

    state = counts()
    again = clock_tick(now=WARN_AT + timedelta(minutes=5))
    assert (again["warned"], again["escalated"]) == (0, 0)
    assert counts() == state  # a second run writes nothing


@pytest.mark.django_db
def test_overdue_escalates_once_to_the_nearest_supervisor_with_an_sms(managers):
    order = complaint(managers.a_agent)
    assert order.priority == Priority.NORMAL and order.escalation_level == 0
    clock_tick(now=WARN_AT)  # warned first, as the schedule would
    late = datetime.fromisoformat("2026-09-19T00:00:00+08:00")  # one second past 23:59:59

    result = clock_tick(now=late)
    assert (result["warned"], result["escalated"], result["escalated_orders"]) == (0, 1, [order.number])
    assert result["notices"] == 1 and result["no_supervisor"] == []
    order.refresh_from_db()
    assert (order.escalation_level, order.priority) == (1, Priority.HIGH)
    contact = order.deadlines.get(name="contact")
    assert contact.escalated_at == late and contact.met_at is None
    [event] = WorkOrderEvent.objects.filter(order=order, action="escalate")
    assert event.actor is None and event.actor_label == "系统"
    assert (event.data["deadline"], event.data["auto"], event.data["level"]) == ("contact", True, 1)
    assert datetime.fromisoformat(event.data["due_at"]) == CONTACT_DUE
    audit = AuditEvent.objects.get(action="workorder.escalate", object_id=str(order.pk))
    assert audit.changes["escalation_level"] == [0, 1] and audit.changes["priority"] == [1, 2]
    assert audit.unit_id == managers.station_a.pk and audit.customer_id == managers.cust_a.pk
    # Station A1 has no manager: bureau A's is the nearest; the company's manager is not told.
    [sms] = Notification.objects.filter(kind="workorder_escalated")
    assert sms.recipient == "13900000001" and sms.channel == "sms"
    assert order.number in sms.body and "联系客户" in sms.body and "2026年9月18日 23:59" in sms.body
    assert "第1次督办" in sms.body and "另有" not in sms.body

    state = counts()
    again = clock_tick(now=late + timedelta(minutes=5))
    assert (again["warned"], again["escalated"], again["notices"]) == (0, 0, 0)
    assert counts() == state  # no double escalation


@pytest.mark.django_db
def test_one_sms_per_supervisor_naming_the_most_overdue_and_how_many_more(managers):
    first = complaint(managers.a_agent)
    second = complaint(managers.a_agent, received=RECEIVED + timedelta(hours=1))  # same due time, later id
    # A week later both complaints' contact deadlines are overdue; their reply deadlines (28 Sept) are not.
    result = clock_tick(now=datetime.fromisoformat("2026-09-22T09:00:00+08:00"))
    assert result["escalated"] == 2 and result["notices"] == 1
    [sms] = Notification.objects.filter(kind="workorder_escalated")
    assert first.number in sms.body and second.number not in sms.body and "另有1张工单" in sms.body
    assert WorkOrderEvent.objects.filter(action="escalate").count() == 2


@pytest.mark.django_db
def test_two_overdue_deadlines_of_one_order_raise_it_twice(managers):
    order = complaint(managers.a_agent)
    # Thursday 1 October, China time: contact (18 Sept) and reply (28 Sept) are both overdue; the clock was down.
    result = clock_tick(now=datetime.fromisoformat("2026-10-01T12:00:00+08:00"))
    assert result["escalated"] == 2 and result["warned"] == 0
    order.refresh_from_db()
    assert order.escalation_level == 2
    assert sorted(
        WorkOrderEvent.objects.filter(order=order, action="escalate").values_list("data__level", flat=True)
    ) == [1, 2]
    assert AuditEvent.objects.get(action="workorder.escalate").changes["escalation_level"] == [0, 2]


@pytest.mark.django_db
def test_met_deadlines_and_closed_orders_are_ignored(managers):
    met = complaint(managers.a_agent)
    for action in ("accept", "assign"):
        met = act(managers.a_agent, met, action, RECEIVED + timedelta(hours=1))
    met = act(managers.a_agent, met, "contact", RECEIVED + timedelta(hours=2))  # meets the contact deadline
    merged = complaint(managers.a_agent)
    target = complaint(managers.a_agent)
    act(managers.a_agent, merged, "merge", RECEIVED + timedelta(hours=1), into=target)

    result = clock_tick(now=datetime.fromisoformat("2026-09-19T00:00:00+08:00"))
    # Only the open duplicate target's contact deadline is overdue.
    assert result["escalated_orders"] == [target.number]
    assert not WorkOrderEvent.objects.filter(
        order__in=[met, merged], action__in=["warn", "escalate"]
    ).exists()
    met.refresh_from_db()
    assert met.escalation_level == 0


@pytest.mark.django_db
def test_supervisors_are_the_managers_of_the_unit_or_its_nearest_ancestor_with_some(managers):
    w = managers
    station_manager = UserFactory(
        username="s_manager", role=Role.MANAGER, unit=w.station_a, phone="13900000002"
    )
    UserFactory(username="gone", role=Role.MANAGER, unit=w.station_b, is_active=False)
    found = supervisors_of_units([w.station_a.pk, w.bureau_a.pk, w.station_b.pk, w.company.pk])
    assert found[w.station_a.pk] == [(station_manager.pk, "13900000002")]
    assert found[w.bureau_a.pk] == [(w.a_manager.pk, "13900000001")]
    # Station B1's only manager is inactive and bureau B has none: the company's manager.
    assert found[w.station_b.pk] == [(w.c_manager.pk, "13900000009")]
    assert found[w.company.pk] == [(w.c_manager.pk, "13900000009")]


@pytest.mark.django_db
def test_an_order_without_any_supervisor_is_listed_and_a_manager_without_a_mobile_skipped(svc):
    order = complaint(svc.a_agent)
    svc.a_manager.is_active = False
    svc.a_manager.save()
    result = clock_tick(now=datetime.fromisoformat("2026-09-19T00:00:00+08:00"))
    assert result["no_supervisor"] == [order.number] and result["notices"] == 0

    other = complaint(svc.a_agent, received=RECEIVED + timedelta(days=7))
    UserFactory(username="m_nophone", role=Role.MANAGER, unit=svc.bureau_a, phone="")
    # Received Thursday 24 September: contact due Monday 28th (25–27 off).
    result = clock_tick(now=datetime.fromisoformat("2026-09-29T01:00:00+08:00"))
    assert other.number in result["escalated_orders"]
    assert (result["notices"], result["supervisors_without_phone"]) == (0, 1)
    assert not Notification.objects.filter(kind="workorder_escalated").exists()


@pytest.mark.django_db
def test_the_job_kinds_and_the_default_schedule(svc):
    assert registry.SCHEDULES["service.clock"].every == 5
    assert registry.SCHEDULES["service.clock"].period == "minutes"
    assert "service.recompute_provisional" in registry.KINDS
    job = job_services.start("service.clock")
    assert job.state == JobState.SUCCEEDED
    assert {"warned", "escalated", "notices", "warned_orders", "escalated_orders"} <= set(job.result)
