"""The work-orders API (issue 15) through HTTP: create from any channel, list and read (scoped, masked), act along
each type's lifecycle, substantiate, attach files, and the portal customer's own orders.

The server's clock is injected (`clock`): orders are registered on Thursday 2026-09-24 10:00 +08:00, so every
deadline below is the worked example's calendar (see test_api_deadlines.py for the hand count)."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.customers.models import PortalBinding
from gridcare.service import api, attachments, services
from gridcare.service.models import WorkOrder, WorkOrderAttachment, WorkOrderDeadline, WorkOrderEvent

API = "/api/v1"
NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")
END = "T23:59:59+08:00"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def clock(monkeypatch):
    """The server's now, for the services and the API (overdue); tests move `clock.now`."""
    state = SimpleNamespace(now=NOW)
    fake = SimpleNamespace(now=lambda: state.now)
    monkeypatch.setattr(services, "timezone", fake)
    monkeypatch.setattr(api, "timezone", fake)
    return state


def post(client, path, body=None):
    return client.post(API + path, body or {}, content_type="application/json")


def create(client, **body):
    body.setdefault("type", "complaint")
    if "phone" not in body:
        body.setdefault("account_number", "3100000001")
    r = post(client, "/work-orders", body)
    assert r.status_code == 201, r.content
    return r.json()


def act(client, number, action, **body):
    r = post(client, f"/work-orders/{number}/actions", {"action": action, **body})
    assert r.status_code == 200, (action, r.content)
    return r.json()


def fields(r) -> set[str]:
    assert r.status_code == 422, (r.status_code, r.content)
    return {e["field"] for e in r.json()["detail"]}


def counts():
    return (
        WorkOrder.objects.count(),
        WorkOrderEvent.objects.count(),
        WorkOrderDeadline.objects.count(),
        WorkOrderAttachment.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def agent(svc, login, clock):
    return login(svc.a_agent)


# ---------------------------------------------------------------- create


@pytest.mark.django_db
def test_an_agent_registers_a_complaint_and_gets_its_deadlines(svc, agent):
    order = create(agent, type="complaint", sub_type="service", description="营业厅服务态度差")
    assert order["number"].startswith("20260924") and len(order["number"]) == 16
    assert (order["type"], order["sub_type"], order["channel"], order["status"]) == (
        "complaint",
        "service",
        "phone",
        "created",
    )
    assert (order["unit_id"], order["account_number"], order["priority"]) == (
        svc.station_a.pk,
        "3100000001",
        1,
    )
    assert order["received_at"] == "2026-09-24T10:00:00+08:00" and order["received_entered"] is False
    # the worked example, in the preview's shape
    assert order["deadlines"] == [
        {"name": "contact", "due_at": "2026-09-28" + END, "provisional": False},
        {"name": "reply", "due_at": "2026-10-12" + END, "provisional": False},
    ]
    assert order["allowed_actions"] == ["accept", "escalate", "transfer", "merge", "chase"]
    # the caller's data came from the account, masked for an agent (no customer.view_pii)
    assert (order["caller_name"], order["phone"]) == ("张*", "138****5678")
    assert order["address"].endswith("****") and "18号" not in order["address"]
    stored = WorkOrder.objects.get(number=order["number"])
    assert stored.phone == "13812345678" and stored.created_by == svc.a_agent
    audit = AuditEvent.objects.get(action="workorder.create")
    assert audit.actor == svc.a_agent and audit.channel == "api" and audit.unit_id == svc.station_a.pk
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()


@pytest.mark.django_db
def test_a_fault_is_triaged_and_gets_its_arrival_deadline(agent):
    order = create(agent, type="fault", channel="web", priority=2)
    assert order["triage"] == "dispatch" and order["outage_number"] is None
    assert (order["channel"], order["priority"]) == ("web", 2)
    assert order["area"] in ("urban", "rural", "remote")
    minutes = {"urban": 45, "rural": 90, "remote": 120}[order["area"]]
    due = (NOW + timedelta(minutes=minutes)).isoformat()
    assert order["deadlines"] == [{"name": "arrival", "due_at": due, "provisional": False}]


@pytest.mark.django_db
def test_an_earlier_received_time_is_accepted_and_audited(agent):
    # A letter received at 08:00 entered at 10:00: the clock starts at 08:00 → arrival 08:45.
    order = create(
        agent,
        type="fault",
        area="urban",
        phone="13500001111",
        address="东关镇某路1号",
        received_at="2026-09-24T00:00:00Z",
    )
    assert order["received_at"] == "2026-09-24T08:00:00+08:00" and order["received_entered"] is True
    assert order["deadlines"][0]["due_at"] == "2026-09-24T08:45:00+08:00"
    audit = AuditEvent.objects.get(action="workorder.received_entered")
    assert audit.changes["received_at"].startswith("2026-09-24T08:00:00")


@pytest.mark.django_db
def test_a_later_received_time_is_refused_and_nothing_is_written(agent):
    before = counts()
    assert fields(
        post(
            agent,
            "/work-orders",
            {"type": "complaint", "account_number": "3100000001", "received_at": "2026-09-24T10:00:01+08:00"},
        )
    ) == {"received_at"}
    assert fields(
        post(
            agent,
            "/work-orders",
            {"type": "complaint", "account_number": "3100000001", "received_at": "2026-09-24T09:00:00"},
        )
    ) == {"received_at"}
    assert counts() == before


@pytest.mark.parametrize("key", ["deadlines", "due_at"])
@pytest.mark.django_db
def test_a_deadline_sent_with_an_order_is_refused(agent, key):
    before = counts()
    r = post(agent, "/work-orders", {"type": "complaint", "account_number": "3100000001", key: None})
    assert fields(r) == {key}
    assert counts() == before


@pytest.mark.django_db
def test_an_unknown_account_is_refused_except_for_a_fault_with_a_phone_and_address(svc, agent):
    before = counts()
    assert fields(post(agent, "/work-orders", {"type": "complaint", "account_number": "3999999999"})) == {
        "account_number"
    }
    assert fields(
        post(
            agent,
            "/work-orders",
            {"type": "fault", "area": "urban", "account_number": "3999999999", "phone": "13500001111"},
        )
    ) == {"account_number"}
    assert fields(post(agent, "/work-orders", {"type": "consultation"})) == {"phone"}
    assert counts() == before
    order = create(
        agent,
        type="fault",
        area="rural",
        account_number="3999999999",
        phone="13500001111",
        address="东关镇北街9号",
    )
    assert order["account_number"] is None and order["unit_id"] == svc.bureau_a.pk  # the agent's own unit
    assert order["deadlines"][0]["due_at"] == "2026-09-24T11:30:00+08:00"  # rural: 90 min
    # any type may come from an unidentified caller with a phone and address
    assert (
        create(agent, type="opinion", phone="13500001111", address="东关镇北街9号")["account_number"] is None
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "service_request"}, "sub_type"),
        ({"type": "complaint", "channel": "fax"}, "channel"),
        ({"type": "complaint", "priority": 4}, "priority"),
        ({"type": "complaint", "priority": 0}, "priority"),
        ({"type": "complaint", "description": "x" * 2001}, "description"),
        ({"type": "complaint", "description": "a\x00b"}, "description"),
        ({"type": "complaint", "caller_name": "x" * 51}, "caller_name"),
        ({"type": "complaint", "phone": "call me"}, "phone"),
        ({"type": "complaint", "unit": 1}, "unit"),
        ({"type": 7}, "type"),
        ({"type": "complaint", "account_number": "3" * 21}, "account_number"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_refused_naming_the_field(agent, body, field):
    body.setdefault("account_number", "3100000001")
    before = counts()
    assert field in fields(post(agent, "/work-orders", body))
    assert counts() == before


@pytest.mark.django_db
def test_a_repeated_idempotency_key_registers_one_order(agent):
    body = {"type": "complaint", "account_number": "3100000001"}
    first = agent.post(
        f"{API}/work-orders", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = agent.post(
        f"{API}/work-orders", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"] and WorkOrder.objects.count() == 1


# ---------------------------------------------------------------- list and detail


@pytest.fixture
def orders(svc, login, clock):
    """Three orders at A (a complaint, a fault from a stranger, a consultation by the hall) and one at B."""
    a, b = login(svc.a_agent), login(svc.b_agent)
    o = SimpleNamespace()
    o.complaint = create(a, type="complaint")["number"]
    clock.now = NOW + timedelta(hours=1)
    o.fault = create(
        a, type="fault", area="urban", phone="13500001111", address="东关镇北街9号", caller_name="王五"
    )["number"]
    clock.now = NOW + timedelta(days=1)  # Fri 25 Sep 10:00
    o.consultation = create(a, type="consultation", channel="hall")["number"]
    o.b = create(b, type="complaint", account_number="3200000001")["number"]
    clock.now = NOW + timedelta(days=1, hours=1)
    return o


@pytest.mark.django_db
def test_the_list_shows_the_callers_units_newest_first(svc, login, orders):
    r = login(svc.a_agent).get(f"{API}/work-orders")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and [i["number"] for i in body["items"]] == [
        orders.consultation,
        orders.fault,
        orders.complaint,
    ]
    row = body["items"][1]
    assert (row["caller_name"], row["phone"]) == ("王*", "135****1111")
    # fault received 11:00 + 45 min, now Fri 11:00: overdue
    assert row["next_due_at"] == "2026-09-24T11:45:00+08:00" and row["overdue"] is True
    assert [i["number"] for i in login(svc.b_agent).get(f"{API}/work-orders").json()["items"]] == [orders.b]
    assert login(svc.admin).get(f"{API}/work-orders").json()["count"] == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=fault", ["fault"]),
        ("status=created", ["consultation", "fault", "complaint"]),
        ("status=closed", []),
        ("channel=hall", ["consultation"]),
        ("account_number=3100000001", ["consultation", "complaint"]),
        ("phone=13500001111", ["fault"]),
        ("overdue=true", ["fault"]),  # the complaint's contact is due Mon 28; the consultation has none
        ("overdue=false", ["consultation", "complaint"]),
        ("received_from=2026-09-25", ["consultation"]),
        ("received_to=2026-09-24", ["fault", "complaint"]),
        ("received_from=2026-09-24&received_to=2026-09-24&type=complaint", ["complaint"]),
        ("page_size=1&page=2", ["fault"]),
    ],
)
@pytest.mark.django_db
def test_list_filters(svc, login, orders, query, expected):
    items = login(svc.a_agent).get(f"{API}/work-orders?{query}").json()["items"]
    assert [i["number"] for i in items] == [getattr(orders, name) for name in expected]


@pytest.mark.django_db
def test_list_filter_by_number_and_bad_filters(svc, login, orders):
    c = login(svc.a_agent)
    assert [i["number"] for i in c.get(f"{API}/work-orders?number={orders.fault}").json()["items"]] == [
        orders.fault
    ]
    assert c.get(f"{API}/work-orders?number={orders.b}").json()["count"] == 0  # another unit's
    assert fields(c.get(f"{API}/work-orders?status=lost")) == {"status"}
    assert fields(c.get(f"{API}/work-orders?type=x&channel=y")) == {"type", "channel"}
    assert fields(c.get(f"{API}/work-orders?received_from=2026-09-25&received_to=2026-09-24")) == {
        "received_to"
    }
    assert fields(c.get(f"{API}/work-orders?received_from=1900-01-01")) == {"received_from"}
    assert fields(c.get(f"{API}/work-orders?page_size=201")) == {"page_size"}


@pytest.mark.django_db
def test_the_list_reads_a_bounded_number_of_queries(svc, login, clock, django_assert_max_num_queries):
    c = login(svc.a_agent)
    for _ in range(12):
        create(c, type="complaint")
    c.get(f"{API}/work-orders")  # warm the session and the user's unit cache
    with django_assert_max_num_queries(8):
        assert len(c.get(f"{API}/work-orders").json()["items"]) == 12


@pytest.mark.django_db
def test_personal_data_is_whole_only_for_customer_view_pii_and_then_audited(svc, login, orders):
    clerk = login(svc.a_clerk)  # 营业员: customer.view_pii
    row = next(i for i in clerk.get(f"{API}/work-orders").json()["items"] if i["number"] == orders.fault)
    assert (row["caller_name"], row["phone"]) == ("王五", "13500001111")
    view = AuditEvent.objects.get(action="customer.view_pii", actor=svc.a_clerk)
    assert view.changes["source"] == "api.work_orders" and len(view.changes["object_ids"]) == 3
    detail = clerk.get(f"{API}/work-orders/{orders.complaint}").json()
    assert (detail["caller_name"], detail["phone"], detail["address"]) == (
        "张三",
        "13812345678",
        "东关镇人民路18号",
    )
    assert AuditEvent.objects.filter(action="customer.view_pii", actor=svc.a_clerk).count() == 2
    # the agent: masked, and nothing audited
    detail = login(svc.a_agent).get(f"{API}/work-orders/{orders.complaint}").json()
    assert (detail["caller_name"], detail["phone"]) == ("张*", "138****5678")
    assert not AuditEvent.objects.filter(action="customer.view_pii", actor=svc.a_agent).exists()


@pytest.mark.django_db
def test_the_detail_holds_the_history_deadlines_and_attachments(svc, login, orders):
    c = login(svc.a_agent)
    act(c, orders.complaint, "accept", note="已受理")
    r = c.get(f"{API}/work-orders/{orders.complaint}")
    assert r.status_code == 200
    d = r.json()
    assert [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in d["events"]] == [
        ("create", "", "created", svc.a_agent.display_name or "a_agent"),
        ("accept", "created", "accepted", svc.a_agent.display_name or "a_agent"),
    ]
    assert d["events"][1]["note"] == "已受理" and d["events"][1]["at"] == "2026-09-25T11:00:00+08:00"
    assert [(x["name"], x["due_at"], x["met_at"], x["overdue"]) for x in d["deadlines"]] == [
        ("contact", "2026-09-28" + END, None, False),
        ("reply", "2026-10-12" + END, None, False),
    ]
    assert d["attachments"] == [] and d["allowed_actions"][0] == "assign"
    assert c.get(f"{API}/work-orders/{orders.b}").status_code == 404  # another unit's: as missing
    assert c.get(f"{API}/work-orders/2026092400000000").status_code == 404


# ---------------------------------------------------------------- actions


@pytest.mark.django_db
def test_a_fault_from_report_to_close_through_the_api(svc, login, clock):
    agent, crew = login(svc.a_agent), login(svc.a_dispatcher)
    number = create(agent, type="fault", area="urban", phone="13500001111", address="东关镇北街9号")["number"]
    act(agent, number, "accept")
    d = act(crew, number, "dispatch", assignee="a_dispatch", note="抢修一班")
    assert d["assignee"] == "a_dispatch" and d["status"] == "dispatched"
    act(crew, number, "depart")
    clock.now = NOW + timedelta(minutes=30)
    d = act(crew, number, "arrive")
    # arrived 10:30 → restoration 13:30; arrival met
    assert [(x["name"], x["due_at"], x["met_at"]) for x in d["deadlines"]] == [
        ("arrival", "2026-09-24T10:45:00+08:00", "2026-09-24T10:30:00+08:00"),
        ("restoration", "2026-09-24T13:30:00+08:00", None),
    ]
    clock.now = NOW + timedelta(hours=2)
    assert fields(post(crew, f"/work-orders/{number}/actions", {"action": "restore"})) == {"fault_cause"}
    d = act(crew, number, "restore", fault_cause="树障", resolution="已处理")
    assert d["status"] == "restored" and d["fault_cause"] == "树障"
    # callback due 1 working day after Thu 24 → Mon 28
    assert d["deadlines"][-1]["name"] == "callback" and d["deadlines"][-1]["due_at"] == "2026-09-28" + END
    assert fields(
        post(agent, f"/work-orders/{number}/actions", {"action": "callback", "satisfaction": "ok"})
    ) == {"satisfaction"}
    act(agent, number, "callback", satisfaction="satisfied", note="客户满意")
    d = act(agent, number, "close")
    assert (
        d["status"] == "closed"
        and d["allowed_actions"] == []
        and d["closed_at"] == "2026-09-24T12:00:00+08:00"
    )
    assert [e["to_status"] for e in d["events"]] == [
        "created", "accepted", "dispatched", "departed", "arrived", "restored", "callback", "closed",
    ]  # fmt: skip


@pytest.mark.django_db
def test_an_illegal_transition_is_refused_naming_action_and_changes_nothing(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    before = counts()
    for action in ("close", "reply", "return", "restore", "fly"):
        r = post(agent, f"/work-orders/{number}/actions", {"action": action})
        assert r.status_code in (403, 422), (action, r.content)
        if r.status_code == 422:
            assert fields(r) == {"action"}
    assert (
        "可执行"
        in post(agent, f"/work-orders/{number}/actions", {"action": "close"}).json()["detail"][0]["message"]
    )
    assert counts() == before and WorkOrder.objects.get(number=number).status == "created"


@pytest.mark.django_db
def test_fault_repair_steps_need_the_dispatch_permission(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="fault", area="urban", phone="13500001111", address="东关镇北街9号")["number"]
    act(agent, number, "accept")
    before = counts()
    assert post(agent, f"/work-orders/{number}/actions", {"action": "dispatch"}).status_code == 403
    assert "dispatch" not in login(svc.a_agent).get(f"{API}/work-orders/{number}").json()["allowed_actions"]
    assert "dispatch" in login(svc.a_dispatcher).get(f"{API}/work-orders/{number}").json()["allowed_actions"]
    # an assignee must be someone who may take the order: unknown, a plain agent, another unit's agent
    crew = login(svc.a_dispatcher)
    for who in ("nobody", "a_agent", "b_agent"):
        assert fields(
            post(crew, f"/work-orders/{number}/actions", {"action": "dispatch", "assignee": who})
        ) == {"assignee"}
    assert counts() == before


@pytest.mark.django_db
def test_return_escalate_transfer_and_merge(svc, login, clock):
    agent = login(svc.a_agent)
    first = create(agent, type="complaint")["number"]
    dupe = create(agent, type="complaint", description="同一诉求")["number"]
    act(agent, first, "accept")
    assert fields(post(agent, f"/work-orders/{first}/actions", {"action": "return"})) == {"note"}
    assert act(agent, first, "return", note="信息不全")["status"] == "created"
    d = act(agent, first, "escalate", note="多次来电")
    assert (d["escalation_level"], d["priority"]) == (1, 2)
    # merge: into an unknown or invisible order is refused; into the open duplicate it works
    assert fields(
        post(agent, f"/work-orders/{dupe}/actions", {"action": "merge", "into": "2026092400000000"})
    ) == {"into"}
    d = act(agent, dupe, "merge", into=first)
    assert (d["status"], d["merged_into"], d["allowed_actions"]) == ("merged", first, [])
    # transfer to bureau B: the clock keeps running; the order leaves the agent's units
    assert fields(post(agent, f"/work-orders/{first}/actions", {"action": "transfer"})) == {"unit"}
    assert fields(post(agent, f"/work-orders/{first}/actions", {"action": "transfer", "unit": 10**9})) == {
        "unit"
    }
    d = act(agent, first, "transfer", unit=svc.bureau_b.pk, note="属西关")
    assert d["unit_id"] == svc.bureau_b.pk and d["deadlines"][0]["due_at"] == "2026-09-28" + END
    assert agent.get(f"{API}/work-orders/{first}").status_code == 404
    assert login(svc.b_agent).get(f"{API}/work-orders/{first}").status_code == 200


@pytest.mark.django_db
def test_an_unsatisfied_callback_reopens_the_order(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="opinion")["number"]
    for action in ("accept", "assign", "complete"):
        act(agent, number, action, assignee="a_agent" if action == "assign" else None)
    d = act(agent, number, "callback", satisfaction="unsatisfied", note="不满意")
    assert (d["status"], d["reopen_count"], d["callback_result"]) == ("assigned", 1, "unsatisfied")


@pytest.mark.django_db
def test_a_complaint_is_substantiated(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    r = post(agent, f"/work-orders/{number}/substantiate", {"substantiated": True, "note": "核实属实"})
    assert r.status_code == 200 and r.json()["substantiated"] is True
    assert r.json()["events"][-1]["action"] == "substantiate"
    assert AuditEvent.objects.filter(action="workorder.substantiate").count() == 1
    fault = create(agent, type="fault", area="urban", phone="13500001111", address="东关镇北街9号")["number"]
    before = counts()
    assert fields(post(agent, f"/work-orders/{fault}/substantiate", {"substantiated": True})) == {
        "substantiated"
    }
    assert fields(post(agent, f"/work-orders/{number}/substantiate", {})) == {"substantiated"}
    assert fields(post(agent, f"/work-orders/{number}/substantiate", {"substantiated": True, "x": 1})) == {
        "x"
    }
    assert counts() == before


# ---------------------------------------------------------------- attachments


def upload(client, number, name, data, ctype="application/octet-stream"):
    return client.post(
        f"{API}/work-orders/{number}/attachments", {"file": SimpleUploadedFile(name, data, ctype)}
    )


@pytest.mark.django_db
def test_attachments_are_checked_stored_listed_and_served(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    r = upload(agent, number, "现场.png", PNG, "image/png")
    assert r.status_code == 201, r.content
    att = r.json()
    assert (att["name"], att["content_type"], att["size"], att["uploaded_by"]) == (
        "现场.png",
        "image/png",
        len(PNG),
        "a_agent",
    )
    # a PDF declared as an image is judged by its bytes
    assert upload(agent, number, "letter.jpg", PDF, "image/jpeg").json()["content_type"] == "application/pdf"
    listed = agent.get(f"{API}/work-orders/{number}").json()["attachments"]
    assert [a["id"] for a in listed] == [att["id"], att["id"] + 1]
    got = login(svc.a_reader).get(f"{API}/work-orders/{number}/attachments/{att['id']}")
    assert got.status_code == 200 and got["Content-Type"] == "image/png"
    assert b"".join(got.streaming_content) == PNG
    assert "attachment" in got["Content-Disposition"]
    assert login(svc.b_agent).get(f"{API}/work-orders/{number}/attachments/{att['id']}").status_code == 404
    assert agent.get(f"{API}/work-orders/{number}/attachments/999999").status_code == 404
    assert AuditEvent.objects.filter(action="workorder.attach").count() == 2


@pytest.mark.django_db
def test_a_bad_file_is_refused_and_nothing_is_written(svc, login, clock, settings):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    before = counts()
    assert fields(upload(agent, number, "a.exe", b"MZ\x90\x00" * 10)) == {"file"}
    assert fields(upload(agent, number, "a.html", b"<html><script>alert(1)</script>", "image/png")) == {
        "file"
    }
    assert fields(upload(agent, number, "empty.png", b"", "image/png")) == {"file"}
    big = PNG + b"\x00" * attachments.MAX_BYTES
    assert "MB" in upload(agent, number, "big.png", big, "image/png").json()["detail"][0]["message"]
    assert fields(agent.post(f"{API}/work-orders/{number}/attachments", {})) == {"file"}
    assert counts() == before


@pytest.mark.django_db
def test_at_most_ten_attachments_per_order(svc, login, clock):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    for i in range(attachments.MAX_PER_ORDER):
        assert upload(agent, number, f"{i}.png", PNG + bytes([i])).status_code == 201
    assert fields(upload(agent, number, "11.png", PNG)) == {"file"}


# ---------------------------------------------------------------- the portal customer


@pytest.fixture
def customer(svc, login, clock):
    PortalBinding.objects.create(user=svc.portal_user, account=svc.acct_a, created_at=timezone.now())
    return login(svc.portal_user)


@pytest.mark.django_db
def test_a_customer_submits_for_a_bound_account_and_follows_it(svc, customer, login):
    r = post(
        customer,
        "/my/work-orders",
        {
            "type": "service_request",
            "sub_type": "meter_check",
            "account_number": "3100000001",
            "description": "电表走得快",
        },
    )
    assert r.status_code == 201, r.content
    mine = r.json()
    assert (mine["channel"], mine["status"], mine["account_number"]) == ("portal", "created", "3100000001")
    # meter_check: 4 working days after Thu 24 Sep → 28, 29, 30, 8 Oct
    assert [(d["name"], d["due_at"], d["met_at"]) for d in mine["deadlines"]] == [
        ("complete", "2026-10-08" + END, None)
    ]
    assert mine["steps"] == [
        {
            "action": "create",
            "status": "created",
            "status_label": "已受理登记",
            "at": "2026-09-24T10:00:00+08:00",
        }
    ]
    order = WorkOrder.objects.get(number=mine["number"])
    assert (
        order.customer_user == svc.portal_user
        and order.created_by is None
        and order.unit_id == svc.station_a.pk
    )
    # no staff data and no personal data in the customer's answers
    assert "phone" not in mine and "assignee" not in mine
    # an order a staff member registered on the bound account is theirs too; another account's is not
    staff = create(login(svc.a_agent), type="consultation")["number"]
    other = create(login(svc.b_agent), type="complaint", account_number="3200000001")["number"]
    listed = [o["number"] for o in customer.get(f"{API}/my/work-orders").json()["items"]]
    assert set(listed) == {mine["number"], staff}
    assert customer.get(f"{API}/my/work-orders/{staff}").status_code == 200
    assert customer.get(f"{API}/my/work-orders/{other}").status_code == 404


@pytest.mark.django_db
def test_a_customer_may_not_submit_for_an_account_not_bound_to_them(svc, customer):
    before = counts()
    for number in ("3200000001", "3999999999"):
        r = post(customer, "/my/work-orders", {"type": "complaint", "account_number": number})
        assert fields(r) == {"account_number"}
        assert "未绑定" in r.json()["detail"][0]["message"]  # the same answer for unknown and not bound
    assert fields(
        post(customer, "/my/work-orders", {"type": "complaint", "due_at": "2026-09-25T00:00:00+08:00"})
    ) == {"due_at"}
    assert fields(
        post(
            customer,
            "/my/work-orders",
            {"type": "complaint", "channel": "phone", "account_number": "3100000001"},
        )
    ) == {"channel"}
    assert fields(
        post(
            customer,
            "/my/work-orders",
            {"type": "complaint", "received_at": "2026-09-24T09:00:00+08:00", "account_number": "3100000001"},
        )
    ) == {"received_at"}
    assert counts() == before


@pytest.mark.django_db
def test_a_customer_reports_a_fault_with_a_phone_and_address(svc, customer):
    r = post(
        customer,
        "/my/work-orders",
        {"type": "fault", "area": "remote", "phone": "13700000000", "address": "西山村3组"},
    )
    assert r.status_code == 201, r.content
    # remote: 120 min
    assert (
        r.json()["deadlines"][0]["due_at"] == "2026-09-24T12:00:00+08:00"
        and r.json()["account_number"] is None
    )
    assert fields(
        post(customer, "/my/work-orders", {"type": "fault", "phone": "13700000000", "address": "西山村3组"})
    ) == {"area"}


@pytest.mark.django_db
def test_a_customer_chases_an_open_order_and_rates_a_closed_one(svc, customer, login):
    number = post(
        customer, "/my/work-orders", {"type": "consultation", "account_number": "3100000001"}
    ).json()["number"]
    r = post(customer, f"/my/work-orders/{number}/chase", {"note": "请尽快答复"})
    assert r.status_code == 200 and r.json()["can_chase"] is True
    staff_view = login(svc.a_agent).get(f"{API}/work-orders/{number}").json()
    assert (staff_view["chase_count"], staff_view["priority"]) == (1, 2)
    assert staff_view["events"][-1]["actor"] == "客户" and staff_view["events"][-1]["note"] == "请尽快答复"
    # not closed yet: no rating
    assert fields(post(customer, f"/my/work-orders/{number}/rate", {"rating": "satisfied"})) == {"rating"}
    agent = login(svc.a_agent)
    act(agent, number, "answer", resolution="已解答")
    act(agent, number, "close")
    before = counts()
    assert fields(post(customer, f"/my/work-orders/{number}/chase", {})) == {
        "action"
    }  # closed: nothing to chase
    assert fields(post(customer, f"/my/work-orders/{number}/rate", {"rating": "great"})) == {"rating"}
    assert counts() == before
    r = post(customer, f"/my/work-orders/{number}/rate", {"rating": "basic", "comment": "还行"})
    assert r.status_code == 200
    assert (r.json()["customer_rating"], r.json()["customer_comment"], r.json()["can_rate"]) == (
        "basic",
        "还行",
        False,
    )
    assert fields(post(customer, f"/my/work-orders/{number}/rate", {"rating": "satisfied"})) == {
        "rating"
    }  # once


@pytest.mark.django_db
def test_customer_routes_are_for_customers_only(svc, login, customer):
    assert Client().get(f"{API}/my/work-orders").status_code == 401
    assert login(svc.a_agent).get(f"{API}/my/work-orders").status_code == 403
    assert post(login(svc.admin), "/my/work-orders", {"type": "complaint"}).status_code == 403
    assert customer.get(f"{API}/my/work-orders/2026092400000000").status_code == 404


@pytest.mark.django_db
def test_the_customer_sees_the_progress_not_the_internal_handling(svc, customer, login):
    agent = login(svc.a_agent)
    number = create(agent, type="complaint")["number"]
    act(agent, number, "accept")
    act(agent, number, "escalate", note="内部升级")
    post(agent, f"/work-orders/{number}/substantiate", {"substantiated": True})
    post(customer, f"/my/work-orders/{number}/chase", {"note": "请尽快"})
    steps = customer.get(f"{API}/my/work-orders/{number}").json()["steps"]
    assert [(s["action"], s["status"]) for s in steps] == [
        ("create", "created"),
        ("accept", "accepted"),
        ("chase", "accepted"),
    ]
    assert "内部升级" not in customer.get(f"{API}/my/work-orders/{number}").content.decode()
