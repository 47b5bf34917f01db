"""Online chat (issue 15 §7): who sees which chat, polling with `after`, accept / post / close rules, and a chat
that becomes a work order with its transcript; the API's permission matrix and the pages."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.models import PortalBinding
from gridcare.service import chat as chats
from gridcare.service.models import ChatMessage, ChatSession, WorkOrder, WorkOrderEvent
from tests.factories import UserFactory

API = "/api/v1"
NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")


def actor(user):
    return Actor(user=user, channel=Channel.API)


@pytest.fixture
def w(svc):
    PortalBinding.objects.create(user=svc.portal_user, account=svc.acct_a, created_at=timezone.now())
    svc.other_customer = UserFactory(
        username="13600000000", role=Role.CUSTOMER, unit=None, phone="13600000000"
    )
    return svc


def start(w, account=True, message="我家停电了", now=NOW):
    return chats.chat_start(
        actor=actor(w.portal_user),
        topic="停电咨询",
        account_number=w.acct_a.account_number if account else None,
        message=message,
        now=now,
    )


def state():
    return (
        list(ChatSession.objects.order_by("pk").values()),
        list(ChatMessage.objects.order_by("pk").values()),
        list(WorkOrder.objects.order_by("pk").values_list("pk", flat=True)),
        AuditEvent.objects.count(),
    )


# ---------------------------------------------------------------- services


@pytest.mark.django_db
def test_unit_is_the_bound_accounts_else_the_company(w):
    bound = start(w)
    assert bound.unit_id == w.acct_a.unit_id == w.station_a.pk
    assert bound.status == "waiting" and bound.started_at == NOW
    assert [m.body for m in bound.messages.all()] == ["我家停电了"]
    unbound = start(w, account=False, message="")
    assert unbound.unit_id == w.company.pk and unbound.messages.count() == 0
    # Only bound accounts; only customers start chats.
    with pytest.raises(ValidationError) as exc:
        chats.chat_start(actor=actor(w.portal_user), topic="x", account_number=w.acct_b.account_number)
    assert "account" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        chats.chat_start(actor=actor(w.a_agent), topic="x")
    with pytest.raises(ValidationError):
        chats.chat_start(actor=actor(w.portal_user), topic="  ")
    with pytest.raises(ValidationError):
        chats.chat_start(actor=actor(w.portal_user), topic="x", message="长" * 2001)
    start(w)  # the third open chat
    with pytest.raises(ValidationError):  # a fourth while three are open
        start(w)
    assert AuditEvent.objects.filter(action="chat.start").count() == 3


@pytest.mark.django_db
def test_who_sees_which_chat(w):
    a_chat, root_chat = start(w), start(w, account=False)
    other = chats.chat_start(actor=actor(w.other_customer), topic="别人的")
    # Agents: their unit subtree, workorder.handle; the company's chats only for company staff.
    assert set(chats.chats_visible(w.a_agent)) == {a_chat}
    assert set(chats.chats_visible(w.b_agent)) == set()
    assert set(chats.chats_visible(w.a_reader)) == set()  # workorder.view only: no chats
    assert set(chats.chats_visible(w.admin)) == {a_chat, root_chat, other}
    # Customers: their own chats only.
    assert set(chats.chats_for(w.portal_user)) == {a_chat, root_chat}
    assert set(chats.chats_for(w.other_customer)) == {other}
    for user, chat in [(w.b_agent, a_chat), (w.other_customer, a_chat), (w.a_agent, root_chat)]:
        with pytest.raises(Exception) as exc:
            chats.chat_get(user, chat.pk)
        assert exc.type.__name__ == "Http404"
    assert chats.chat_get(w.portal_user, a_chat.pk) == a_chat
    with pytest.raises(PermissionDenied):
        chats.chat_accept(actor=actor(w.b_agent), chat=a_chat)
    with pytest.raises(PermissionDenied):
        chats.chat_post(actor=actor(w.other_customer), chat=a_chat, body="插话")


@pytest.mark.django_db
def test_polling_returns_only_what_came_after(w):
    chat = start(w, message="")
    assert chats.chat_messages(chat, after=0) == []
    m1 = chats.chat_post(actor=actor(w.portal_user), chat=chat, body="一", now=NOW)
    m2 = chats.chat_post(actor=actor(w.portal_user), chat=chat, body="二", now=NOW)
    chats.chat_accept(actor=actor(w.a_agent), chat=chat, now=NOW + timedelta(minutes=1))
    m4 = chats.chat_post(actor=actor(w.a_agent), chat=chat, body="您好", now=NOW + timedelta(minutes=2))
    all_ = chats.chat_messages(chat, after=0)
    assert [(m.sender, m.body) for m in all_] == [
        ("customer", "一"),
        ("customer", "二"),
        ("system", "客服 " + w.a_agent.display_name + " 已接入，正在为您服务"),
        ("agent", "您好"),
    ]
    assert [m.pk for m in chats.chat_messages(chat, after=m1.pk)] == [m2.pk, all_[2].pk, m4.pk]
    assert chats.chat_messages(chat, after=m4.pk) == []
    assert [m.pk for m in chats.chat_messages(chat, after=0, limit=2)] == [m1.pk, m2.pk]
    # Another chat's messages never leak in, whatever `after` says.
    other = start(w, message="别的会话")
    assert chats.chat_messages(chat, after=m4.pk) == []
    assert [m.body for m in chats.chat_messages(other, after=0)] == ["别的会话"]


@pytest.mark.django_db
def test_accept_post_close_rules(w):
    chat = start(w)
    with pytest.raises(ValidationError) as exc:  # an agent answers only after accepting
        chats.chat_post(actor=actor(w.a_agent), chat=chat, body="你好")
    assert "chat" in exc.value.message_dict
    chats.chat_accept(actor=actor(w.a_agent), chat=chat)
    second = UserFactory(username="a_agent2", role=Role.AGENT, unit=w.bureau_a)
    with pytest.raises(Conflict):
        chats.chat_accept(actor=actor(second), chat=chat)
    with pytest.raises(ValidationError):  # not the accepting agent
        chats.chat_post(actor=actor(second), chat=chat, body="我来")
    chats.chat_accept(actor=actor(w.a_agent), chat=chat)  # accepting again is a no-op
    for bad in ("", "   ", "长" * 2001):
        with pytest.raises(ValidationError):
            chats.chat_post(actor=actor(w.portal_user), chat=chat, body=bad)
    chats.chat_post(actor=actor(w.portal_user), chat=chat, body="长" * 2000)
    chats.chat_close(actor=actor(w.portal_user), chat=chat, now=NOW)
    chat.refresh_from_db()
    assert (chat.status, chat.closed_at) == ("closed", NOW)
    for who in (w.portal_user, w.a_agent):
        with pytest.raises(ValidationError):
            chats.chat_post(actor=actor(who), chat=chat, body="还在吗")
    with pytest.raises(ValidationError):
        chats.chat_close(actor=actor(w.a_agent), chat=chat)
    # Accept and close are audited; messages are not (the transcript is the record).
    assert list(
        AuditEvent.objects.filter(object_type="service.chatsession")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["chat.start", "chat.accept", "chat.close"]


@pytest.mark.django_db
def test_customer_messages_are_rate_limited(w):
    chat = start(w, message="")
    limit, _window = chats.CUSTOMER_RATE
    for i in range(limit):
        chats.chat_post(actor=actor(w.portal_user), chat=chat, body=f"第{i}条")
    with pytest.raises(chats.TooFast):
        chats.chat_post(actor=actor(w.portal_user), chat=chat, body="再来一条")
    assert chat.messages.count() == limit
    chats.chat_accept(actor=actor(w.a_agent), chat=chat)
    for i in range(limit + 5):  # agents are not limited
        chats.chat_post(actor=actor(w.a_agent), chat=chat, body=f"答{i}")


@pytest.mark.django_db
def test_a_chat_becomes_a_work_order_with_its_transcript(w):
    chat = start(w, message="我家停电了")
    with pytest.raises(ValidationError):  # waiting: accept first
        chats.chat_to_order(actor=actor(w.a_agent), chat=chat, order_type="fault")
    chats.chat_accept(actor=actor(w.a_agent), chat=chat, now=NOW + timedelta(seconds=30))
    chats.chat_post(actor=actor(w.a_agent), chat=chat, body="请问地址？", now=NOW + timedelta(minutes=1))
    chats.chat_post(actor=actor(w.portal_user), chat=chat, body="人民路18号", now=NOW + timedelta(minutes=2))
    assert chats.prefill_description(chat) == "停电咨询\n我家停电了\n人民路18号"
    with pytest.raises(PermissionDenied):
        chats.chat_to_order(actor=actor(w.b_agent), chat=chat, order_type="fault")
    before = state()
    with pytest.raises(ValidationError) as exc:
        chats.chat_to_order(actor=actor(w.a_agent), chat=chat, order_type="nonsense")
    assert "type" in exc.value.message_dict
    assert state() == before

    order = chats.chat_to_order(
        actor=actor(w.a_agent),
        chat=chat,
        order_type="fault",
        description="客户报停电",
        now=NOW + timedelta(minutes=3),
    )
    name = w.a_agent.display_name
    expected = "\n".join(
        [
            "[2026-09-24 10:00:00] 客户：我家停电了",
            f"[2026-09-24 10:00:30] 系统：客服 {name} 已接入，正在为您服务",
            f"[2026-09-24 10:01:00] 客服 {name}：请问地址？",
            "[2026-09-24 10:02:00] 客户：人民路18号",
        ]
    )
    assert (order.channel, order.order_type, order.account, order.unit_id) == (
        "chat",
        "fault",
        w.acct_a,
        w.station_a.pk,
    )
    assert order.customer_user == w.portal_user
    assert order.description == f"客户报停电\n\n—— 在线客服会话 #{chat.pk} 记录 ——\n{expected}"
    event = WorkOrderEvent.objects.get(order=order, action="chat_transcript")
    assert event.note == f"在线客服会话 #{chat.pk} 记录\n{expected}"
    assert event.data == {"chat": chat.pk, "messages": 4}
    assert event.actor == w.a_agent
    chat.refresh_from_db()
    assert chat.order == order and chat.status == "active"
    last = chat.messages.order_by("id").last()
    assert last.sender == "system" and order.number in last.body
    assert AuditEvent.objects.filter(action="chat.order", changes__number=order.number).exists()
    assert AuditEvent.objects.filter(action="workorder.create", object_id=str(order.pk)).exists()
    with pytest.raises(ValidationError) as exc:  # once per chat
        chats.chat_to_order(actor=actor(w.a_agent), chat=chat, order_type="consultation")
    assert order.number in str(exc.value)


@pytest.mark.django_db
def test_an_unbound_chat_needs_an_address_and_writes_nothing_without_one(w):
    chat = start(w, account=False)
    chats.chat_accept(actor=actor(w.admin), chat=chat)
    before = state()
    with pytest.raises(ValidationError) as exc:
        chats.chat_to_order(actor=actor(w.admin), chat=chat, order_type="consultation")
    assert "phone" in exc.value.message_dict
    assert state() == before
    chats.chat_close(actor=actor(w.admin), chat=chat)
    order = chats.chat_to_order(
        actor=actor(w.admin), chat=chat, order_type="consultation", address="东关镇人民路18号"
    )
    assert (order.phone, order.address, order.unit_id, order.account) == (
        w.portal_user.phone,
        "东关镇人民路18号",
        w.company.pk,
        None,
    )


# ---------------------------------------------------------------- API


@pytest.mark.django_db
def test_api_flow_and_polling(w, login):
    customer, agent = login(w.portal_user), login(w.a_agent)
    r = customer.post(
        f"{API}/chats",
        {"topic": "电费咨询", "account_number": w.acct_a.account_number, "message": "为什么电费这么高"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    chat_id = r.json()["id"]
    assert r.json()["customer"] == w.portal_user.phone  # their own number, whole
    r = agent.get(f"{API}/chats", {"status": "waiting"})
    assert r.status_code == 200
    [row] = r.json()["items"]
    assert row["id"] == chat_id and row["customer"] == "137****0000"
    assert agent.post(f"{API}/chats/{chat_id}/accept").status_code == 200
    assert agent.get(f"{API}/chats", {"status": "waiting"}).json()["count"] == 0
    r = agent.post(f"{API}/chats/{chat_id}/messages", {"body": "您好"}, content_type="application/json")
    assert r.status_code == 201 and r.json()["sender"] == "agent"
    r = customer.get(f"{API}/chats/{chat_id}/messages", {"after": 0})
    data = r.json()
    assert [(m["sender"], m["sender_label"]) for m in data["items"]] == [
        ("customer", "我"),
        ("system", "系统"),
        ("agent", f"客服 {w.a_agent.display_name}"),
    ]
    assert data["chat"]["status"] == "active" and data["last_id"] == data["items"][-1]["id"]
    again = customer.get(f"{API}/chats/{chat_id}/messages", {"after": data["last_id"]}).json()
    assert again["items"] == [] and again["last_id"] == data["last_id"]
    r = agent.post(f"{API}/chats/{chat_id}/order", {"type": "consultation"}, content_type="application/json")
    assert r.status_code == 201
    number = r.json()["order_number"]
    assert WorkOrder.objects.get(number=number).channel == "chat"
    assert r.json()["chat"]["order_number"] == number
    assert customer.post(f"{API}/chats/{chat_id}/close").status_code == 200
    r = customer.post(f"{API}/chats/{chat_id}/messages", {"body": "x"}, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "chat"


@pytest.mark.django_db
def test_api_permission_matrix(w, login):
    chat = start(w)
    anon, customer, other = login(), login(w.portal_user), login(w.other_customer)
    reader, agent, b_agent = login(w.a_reader), login(w.a_agent), login(w.b_agent)
    second = login(UserFactory(username="a_agent2", role=Role.AGENT, unit=w.bureau_a))
    msg = {"body": "hi"}
    before = state()
    cases = [
        (anon, "post", f"{API}/chats", {"topic": "x"}, 401),
        (agent, "post", f"{API}/chats", {"topic": "x"}, 403),
        (customer, "post", f"{API}/chats", {"topic": "x" * 101}, 422),
        (customer, "post", f"{API}/chats", {"topic": "x", "account_number": "3200000001"}, 422),
        (anon, "get", f"{API}/chats", None, 401),
        (reader, "get", f"{API}/chats", None, 403),
        (agent, "get", f"{API}/chats?status=bogus", None, 422),
        (anon, "get", f"{API}/chats/{chat.pk}/messages", None, 401),
        (reader, "get", f"{API}/chats/{chat.pk}/messages", None, 403),
        (other, "get", f"{API}/chats/{chat.pk}/messages", None, 404),
        (b_agent, "get", f"{API}/chats/{chat.pk}/messages", None, 404),
        (agent, "get", f"{API}/chats/99999/messages", None, 404),
        (agent, "get", f"{API}/chats/{2**70}/messages", None, 404),
        (agent, "get", f"{API}/chats/{chat.pk}/messages?after=-1", None, 422),
        (customer, "post", f"{API}/chats/{chat.pk}/accept", None, 403),
        (reader, "post", f"{API}/chats/{chat.pk}/accept", None, 403),
        (b_agent, "post", f"{API}/chats/{chat.pk}/accept", None, 404),
        (other, "post", f"{API}/chats/{chat.pk}/messages", msg, 404),
        (b_agent, "post", f"{API}/chats/{chat.pk}/messages", msg, 404),
        (agent, "post", f"{API}/chats/{chat.pk}/messages", msg, 422),  # not accepted yet
        (customer, "post", f"{API}/chats/{chat.pk}/messages", {"body": "x" * 2001}, 422),
        (customer, "post", f"{API}/chats/{chat.pk}/messages", {"body": "a\x00b"}, 422),
        (other, "post", f"{API}/chats/{chat.pk}/close", None, 404),
        (b_agent, "post", f"{API}/chats/{chat.pk}/close", None, 404),
        (customer, "post", f"{API}/chats/{chat.pk}/order", {"type": "consultation"}, 403),
        (b_agent, "post", f"{API}/chats/{chat.pk}/order", {"type": "consultation"}, 404),
        (agent, "post", f"{API}/chats/{chat.pk}/order", {"type": "consultation"}, 422),  # not accepted
    ]
    for client, method, path, payload, expected in cases:
        r = (
            client.get(path)
            if method == "get"
            else client.post(path, payload or {}, content_type="application/json")
        )
        assert r.status_code == expected, (method, path, r.status_code, r.content[:300])
    assert state() == before
    assert agent.post(f"{API}/chats/{chat.pk}/accept").status_code == 200
    r = second.post(f"{API}/chats/{chat.pk}/accept")
    assert r.status_code == 409 and w.a_agent.display_name in r.json()["detail"]
    assert other.get(f"{API}/chats").json()["count"] == 0  # a customer lists only their own


@pytest.mark.django_db
def test_api_rate_limit_answers_429(w, login):
    chat = start(w, message="")
    customer = login(w.portal_user)
    limit, _window = chats.CUSTOMER_RATE
    codes = [
        customer.post(
            f"{API}/chats/{chat.pk}/messages", {"body": str(i)}, content_type="application/json"
        ).status_code
        for i in range(limit + 1)
    ]
    assert codes == [201] * limit + [429]
    assert chat.messages.count() == limit


# ---------------------------------------------------------------- pages


@pytest.mark.django_db
def test_pages(w, login, django_assert_max_num_queries):
    customer, agent = login(w.portal_user), login(w.a_agent)
    page = customer.get("/portal/service/chat/")
    assert page.status_code == 200 and w.acct_a.account_number in page.content.decode()
    r = customer.post("/portal/service/chat/", {"topic": "", "account": "", "message": ""})
    assert r.status_code == 400 and "请填写咨询主题" in r.content.decode()
    r = customer.post(
        "/portal/service/chat/",
        {"topic": "电费咨询", "account": w.acct_a.account_number, "message": "电费高"},
    )
    assert r.status_code == 302
    chat = ChatSession.objects.get()
    assert r["Location"] == f"/portal/service/chat/{chat.pk}/"
    start(w), start(w)  # more waiting chats: the console's queries do not grow with them
    with django_assert_max_num_queries(14):
        console = agent.get("/service/chat/")
    assert console.status_code == 200 and f'data-testid="waiting-{chat.pk}"' in console.content.decode()
    assert "137****0000" in console.content.decode() and "13700000000" not in console.content.decode()
    assert login(w.a_reader).get("/service/chat/").status_code == 404
    assert login(w.b_agent).get(f"/service/chat/{chat.pk}/").status_code == 404
    assert login(w.other_customer).get(f"/portal/service/chat/{chat.pk}/").status_code == 404
    assert agent.get("/portal/service/chat/").status_code == 404

    assert agent.post(f"/service/chat/{chat.pk}/accept/").status_code == 302
    assert agent.post(f"/service/chat/{chat.pk}/send/", {"body": "您好，请讲"}).status_code == 302
    with django_assert_max_num_queries(14):
        detail = agent.get(f"/service/chat/{chat.pk}/")
    text = detail.content.decode()
    assert "电费高" in text and "您好，请讲" in text and 'data-testid="chat-order-form"' in text
    r = agent.post(f"/service/chat/{chat.pk}/order/", {"type": "service_request", "description": "查电费"})
    assert r.status_code == 400 and "服务申请须填写子类" in r.content.decode()
    r = agent.post(
        f"/service/chat/{chat.pk}/order/",
        {"type": "service_request", "sub_type": "reading_data", "description": "核对抄表数据"},
    )
    assert r.status_code == 302
    chat.refresh_from_db()
    assert chat.order.sub_type == "reading_data" and chat.order.description.startswith("核对抄表数据\n\n")

    session = customer.get(f"/portal/service/chat/{chat.pk}/").content.decode()
    assert "您好，请讲" in session and chat.order.number in session
    r = customer.post(f"/portal/service/chat/{chat.pk}/send/", {"body": ""})
    assert r.status_code == 400
    assert customer.post(f"/portal/service/chat/{chat.pk}/send/", {"body": "谢谢"}).status_code == 302
    assert customer.post(f"/portal/service/chat/{chat.pk}/close/").status_code == 302
    chat.refresh_from_db()
    assert chat.status == "closed"
    r = agent.post(f"/service/chat/{chat.pk}/close/")
    assert r.status_code == 400 and "会话已结束" in r.content.decode()
    assert agent.post(f"/service/chat/{chat.pk}/bogus/").status_code == 404
