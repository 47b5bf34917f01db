"""Each type's lifecycle through the services, and the refused transitions (issue 15 §2)."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.service import services
from gridcare.service.lifecycle import STEPS
from gridcare.service.models import WorkOrderDeadline

NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")


def act(user, order, action, **kw):
    return services.work_order_act(
        actor=Actor(user=user, channel=Channel.CONSOLE), order=order, action=action, now=NOW, **kw
    )


def create(user, order_type, **kw):
    kw.setdefault("account_number", "3100000001")
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE), order_type=order_type, channel="phone", now=NOW, **kw
    ).order


@pytest.mark.django_db
def test_fault_walks_its_whole_path_and_meets_its_deadlines(svc):
    order = create(svc.a_agent, "fault")
    assert order.area == "urban" or order.area in ("rural", "remote")
    assert [d.name for d in order.deadlines.all()] == ["arrival"]
    order = act(svc.a_agent, order, "accept")
    for action in ["dispatch", "depart", "arrive"]:
        order = act(svc.a_dispatcher, order, action)
    assert set(order.deadlines.values_list("name", flat=True)) == {"arrival", "restoration"}
    order = act(svc.a_dispatcher, order, "restore", fault_cause="树障", resolution="已修复")
    assert set(order.deadlines.values_list("name", flat=True)) == {"arrival", "restoration", "callback"}
    order = act(svc.a_agent, order, "callback", satisfaction="satisfied")
    order = act(svc.a_agent, order, "close")
    assert order.status == "closed"
    assert list(order.events.values_list("to_status", flat=True)) == STEPS["fault"]
    assert not WorkOrderDeadline.objects.filter(order=order, met_at__isnull=True).exists()


@pytest.mark.django_db
def test_agent_may_not_dispatch_and_skipping_is_refused(svc):
    order = create(svc.a_agent, "fault")
    with pytest.raises(ValidationError):
        act(svc.a_agent, order, "close")
    order = act(svc.a_agent, order, "accept")
    from gridcare.core.scoping import PermissionDenied

    with pytest.raises(PermissionDenied):
        act(svc.a_agent, order, "dispatch")
    with pytest.raises(ValidationError):
        act(svc.a_dispatcher, order, "arrive")


@pytest.mark.django_db
def test_unsatisfied_callback_reopens_a_complaint(svc):
    order = create(svc.a_agent, "complaint", sub_type="service")
    for action in ["accept", "assign", "contact", "reply"]:
        order = act(svc.a_agent, order, action)
    order = act(svc.a_agent, order, "callback", satisfaction="unsatisfied", note="仍未解决")
    assert order.status == "assigned" and order.reopen_count == 1
    order = act(svc.a_agent, order, "return", note="重新联系")
    assert order.status == "accepted"


@pytest.mark.django_db
def test_consultation_may_close_without_callback(svc):
    order = create(svc.a_agent, "consultation")
    assert order.deadlines.count() == 0
    order = act(svc.a_agent, order, "answer")
    order = act(svc.a_agent, order, "close")
    assert order.status == "closed"


@pytest.mark.django_db
def test_completing_an_opinion_meets_its_reply_clock(svc):
    order = create(svc.a_agent, "opinion")
    assert [d.name for d in order.deadlines.all()] == ["reply"]
    for action in ["accept", "assign", "complete"]:
        order = act(svc.a_agent, order, action)
    reply = order.deadlines.get(name="reply")
    assert reply.met_at == NOW


# Every type's path, written out by hand from issue 15 §2 (not read from lifecycle.STEPS), with the actor allowed.
PATHS = {
    "fault": ["accept", "dispatch", "depart", "arrive", "restore", "callback", "close"],
    "complaint": ["accept", "assign", "contact", "reply", "callback", "close"],
    "report": ["accept", "assign", "contact", "reply", "callback", "close"],
    "opinion": ["accept", "assign", "complete", "callback", "close"],
    "service_request": ["accept", "assign", "complete", "callback", "close"],
    "consultation": ["answer", "callback", "close"],
    "praise": ["answer", "close"],
}
STATUSES = {
    "fault": ["accepted", "dispatched", "departed", "arrived", "restored", "callback", "closed"],
    "complaint": ["accepted", "assigned", "contacted", "replied", "callback", "closed"],
    "report": ["accepted", "assigned", "contacted", "replied", "callback", "closed"],
    "opinion": ["accepted", "assigned", "completed", "callback", "closed"],
    "service_request": ["accepted", "assigned", "completed", "callback", "closed"],
    "consultation": ["answered", "callback", "closed"],
    "praise": ["answered", "closed"],
}
# One refused step per type: skipping ahead from `created`.
SKIPS = {
    "fault": "arrive",
    "complaint": "reply",
    "report": "contact",
    "opinion": "complete",
    "service_request": "close",
    "consultation": "close",
    "praise": "callback",
}


@pytest.mark.django_db
@pytest.mark.parametrize("order_type", list(PATHS))
def test_every_type_walks_its_own_path_and_refuses_a_skip(svc, order_type):
    kw = {"sub_type": "meter_check"} if order_type == "service_request" else {}
    order = create(svc.a_agent, order_type, **kw)
    with pytest.raises(ValidationError) as refused:
        act(svc.a_dispatcher, order, SKIPS[order_type])
    assert "action" in refused.value.message_dict
    order.refresh_from_db()
    assert order.status == "created"
    seen = []
    for action in PATHS[order_type]:
        user = svc.a_dispatcher if action in {"dispatch", "depart", "arrive", "restore"} else svc.a_agent
        extra = {"fault_cause": "树障"} if action == "restore" else {}
        if action == "callback":
            extra = {"satisfaction": "basic"}
        order = act(user, order, action, **extra)
        seen.append(order.status)
    assert seen == STATUSES[order_type]
    with pytest.raises(ValidationError):
        act(svc.a_agent, order, "escalate")  # nothing is done to a closed order
