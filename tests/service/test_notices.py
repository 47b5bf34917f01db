"""Work-order notices through the outbox (issue 15 §8): each of acceptance, dispatch, closing and reopening queues
exactly one notice (to the account's customer on their channels, or one SMS to a caller known only by a mobile
number), with the order number, its type and the promised time; a retried call queues nothing."""

from datetime import datetime

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.notify.models import Notification
from gridcare.notify.outbox import notices_muted
from gridcare.service import notices, services

NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")  # Thursday, the worked example


def create(user, order_type, **kw):
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE), order_type=order_type, channel="phone", now=NOW, **kw
    ).order


def act(user, order, action, **kw):
    return services.work_order_act(
        actor=Actor(user=user, channel=Channel.CONSOLE), order=order, action=action, now=NOW, **kw
    )


def keys(order) -> list[str]:
    """The notices of the order: dedupe keys without the channel suffix, in order."""
    rows = Notification.objects.filter(dedupe_key__startswith=f"workorder:{order.pk}:").order_by("id")
    out: list[str] = []
    for key in rows.values_list("dedupe_key", flat=True):
        base = key.rsplit(":", 1)[0]
        if base not in out:
            out.append(base)
    return out


@pytest.mark.django_db
def test_complaint_with_an_account_is_told_on_acceptance_with_its_reply_deadline(svc):
    svc.cust_a.notify_wechat = True  # two channels: still one notice, one row per channel
    svc.cust_a.save()
    order = create(svc.a_agent, "complaint", account_number="3100000001")
    assert keys(order) == []  # creating is not a notice step
    order = act(svc.a_agent, order, "accept")
    assert keys(order) == [f"workorder:{order.pk}:accepted:0"]
    rows = Notification.objects.filter(dedupe_key__startswith=f"workorder:{order.pk}:accepted:0")
    assert sorted(rows.values_list("channel", flat=True)) == ["sms", "wechat"]
    sms = rows.get(channel="sms")
    assert (sms.kind, sms.customer_id, sms.account_id, sms.recipient) == (
        "workorder_accepted",
        svc.cust_a.pk,
        svc.acct_a.pk,
        "13812345678",
    )
    # Reply: the 7th working day after Thursday 24 September is Monday 12 October (the worked example).
    assert sms.body == (
        f"【供电服务】您的投诉工单{order.number}已受理，我们将在2026年10月12日 23:59前答复您。"
        "办理进度可在网上国网查询，或致电95598。"
    )
    before = Notification.objects.count()
    notices.queue(order, "accepted")  # a retried call
    assert Notification.objects.count() == before


@pytest.mark.django_db
def test_fault_by_phone_only_gets_one_sms_per_step_and_a_new_round_after_reopening(svc):
    order = create(svc.a_agent, "fault", phone="13700001234", address="东关镇人民路20号", area="urban")
    assert order.account_id is None
    order = act(svc.a_agent, order, "accept")
    order = act(svc.a_dispatcher, order, "dispatch")
    for action in ("depart", "arrive"):
        order = act(svc.a_dispatcher, order, action)
    order = act(svc.a_dispatcher, order, "restore", fault_cause="树障", resolution="已修复")
    order = act(svc.a_agent, order, "callback", satisfaction="unsatisfied", note="仍然停电")
    assert order.status == "accepted" and order.reopen_count == 1
    order = act(svc.a_dispatcher, order, "dispatch")
    assert keys(order) == [
        f"workorder:{order.pk}:accepted:0",
        f"workorder:{order.pk}:dispatched:0",
        f"workorder:{order.pk}:reopened:1",
        f"workorder:{order.pk}:dispatched:1",
    ]
    rows = Notification.objects.filter(dedupe_key__startswith=f"workorder:{order.pk}:").order_by("id")
    assert {(n.channel, n.recipient, n.customer_id) for n in rows} == {("sms", "13700001234", None)}
    accepted, dispatched, reopened, _again = rows
    # Urban fault: arrival 45 minutes after 10:00.
    assert accepted.body == (
        f"【供电服务】您的故障报修工单{order.number}已受理，我们将在2026年9月24日 10:45前到达现场。"
        "办理进度可在网上国网查询，或致电95598。"
    )
    assert dispatched.body == (
        f"【供电服务】您的故障报修工单{order.number}已派出抢修人员，承诺于2026年9月24日 10:45前到达现场，"
        "请保持电话畅通。"
    )
    assert (
        reopened.body
        == f"【供电服务】您对工单{order.number}（故障报修）的处理不满意，我们已重新办理，将尽快与您联系。"
    )
    before = Notification.objects.count()
    for event in ("dispatched", "reopened"):
        notices.queue(order, event)  # retried in this round: same keys
    assert Notification.objects.count() == before


@pytest.mark.django_db
def test_closing_invites_a_rating_and_consultations_promise_nothing(svc):
    order = create(svc.a_agent, "consultation", account_number="3100000001")
    order = act(svc.a_agent, order, "answer")
    assert keys(order) == []  # a consultation is answered, never "accepted"
    order = act(svc.a_agent, order, "close")
    assert keys(order) == [f"workorder:{order.pk}:closed:0"]
    sms = Notification.objects.get(dedupe_key=f"workorder:{order.pk}:closed:0:sms")
    assert sms.kind == "workorder_closed"
    assert sms.body == (
        f"【供电服务】您的咨询/查询工单{order.number}已办结归档。欢迎登录网上国网对本次服务进行评价，感谢您的支持。"
    )


@pytest.mark.django_db
def test_a_landline_caller_gets_no_sms_and_muted_backfills_queue_nothing(svc):
    order = create(svc.a_agent, "fault", phone="010-88886666", address="东关镇人民路20号", area="urban")
    act(svc.a_agent, order, "accept")
    assert keys(order) == []
    other = create(svc.a_agent, "opinion", account_number="3100000001")
    with notices_muted():
        act(svc.a_agent, other, "accept")
    assert keys(other) == []


@pytest.mark.django_db
def test_a_broken_template_does_not_refuse_the_step(svc):
    from gridcare.notify.models import NoticeTemplate

    NoticeTemplate.objects.filter(kind="workorder_accepted", channel="sms").update(body="{% if %}")
    order = create(svc.a_agent, "complaint", account_number="3100000001")
    order = act(svc.a_agent, order, "accept")
    assert order.status == "accepted" and keys(order) == []
