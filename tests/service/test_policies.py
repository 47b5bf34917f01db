"""The time-limit policy table (issue 15 §3): everyone with workorder.view reads it, administrators change amounts
and units (audited); a change applies to new orders only — existing orders keep their deadlines."""

from datetime import datetime

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.service import services
from gridcare.service.models import SlaPolicy, WorkOrderDeadline

API = "/api/v1"
RECEIVED = datetime.fromisoformat("2026-09-24T10:00:00+08:00")  # the worked example


def complaint(user):
    return services.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE),
        order_type="complaint",
        channel="phone",
        account_number="3100000001",
        received_at=RECEIVED,
        now=RECEIVED,
    ).order


def reply_due(order):
    return WorkOrderDeadline.objects.get(order=order, name="reply").due_at


def reply_policy() -> SlaPolicy:
    return SlaPolicy.objects.get(order_type="complaint", sub_type="", area="", name="reply")


def policy_state():
    return (
        list(SlaPolicy.objects.order_by("id").values_list("amount", "unit", "updated_at")),
        AuditEvent.objects.count(),
    )


def put(client, body):
    return client.put(f"{API}/service/policies", data=body, content_type="application/json")


@pytest.mark.django_db
def test_a_change_applies_to_new_orders_only(svc, login):
    before = complaint(svc.a_agent)
    assert reply_due(before) == datetime.fromisoformat("2026-10-12T23:59:59+08:00")  # 7 working days
    p = reply_policy()
    r = put(login(svc.admin), {"policies": [{"id": p.pk, "amount": 5, "unit": "working_days"}]})
    assert r.status_code == 200, r.content
    row = next(x for x in r.json() if x["id"] == p.pk)
    assert (row["amount"], row["unit"], row["label"]) == (5, "working_days", "投诉 · 答复客户")
    audit = AuditEvent.objects.get(action="service.policy_update")
    assert audit.changes == {"policy": "投诉 · 答复客户", "time_limit": ["7 工作日", "5 工作日"]}
    assert (audit.actor, audit.object_id) == (svc.admin, str(p.pk))

    after = complaint(svc.a_agent)
    # 5 working days after 24 Sept: 28, 29, 30 Sept, 8, 9 Oct (1–7 Oct off).
    assert reply_due(after) == datetime.fromisoformat("2026-10-09T23:59:59+08:00")
    assert reply_due(before) == datetime.fromisoformat("2026-10-12T23:59:59+08:00")  # kept
    assert WorkOrderDeadline.objects.get(order=before, name="reply").amount == 7


@pytest.mark.django_db
def test_api_reads_for_staff_writes_for_administrators_and_refuses_bad_rows(svc, login):
    assert login().get(f"{API}/service/policies").status_code == 401
    assert login(svc.portal_user).get(f"{API}/service/policies").status_code == 403
    rows = login(svc.a_reader).get(f"{API}/service/policies").json()
    assert len(rows) == 15
    fault = {
        (r["area"], r["name"]): (r["amount"], r["unit"], r["basis"])
        for r in rows
        if r["order_type"] == "fault"
    }
    assert fault[("urban", "arrival")] == (45, "minutes", "received")
    assert fault[("rural", "restoration")] == (4, "hours", "arrived")

    p = reply_policy()
    state = policy_state()
    ok = {"policies": [{"id": p.pk, "amount": 5, "unit": "working_days"}]}
    assert put(login(), ok).status_code == 401
    assert put(login(svc.portal_user), ok).status_code == 403
    assert put(login(svc.a_manager), ok).status_code == 403
    admin = login(svc.admin)
    bad_unit = put(admin, {"policies": [ok["policies"][0], {"id": p.pk + 1, "amount": 3, "unit": "weeks"}]})
    assert bad_unit.status_code == 422 and bad_unit.json()["detail"][0]["field"] == "policies.1.unit"
    too_long = put(admin, {"policies": [{"id": p.pk, "amount": 61, "unit": "working_days"}]})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["field"] == "policies.0.amount"
    unknown = put(admin, {"policies": [{"id": 999999, "amount": 3, "unit": "hours"}]})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "policies.0.id"
    twice = put(admin, {"policies": [ok["policies"][0], ok["policies"][0]]})
    assert twice.status_code == 422 and twice.json()["detail"][0]["field"] == "policies.1.id"
    assert put(admin, {"policies": [{"id": p.pk, "amount": 0, "unit": "hours"}]}).status_code == 422
    assert put(admin, {"policies": []}).status_code == 422
    assert policy_state() == state  # refused: nothing written

    # Unchanged rows write nothing.
    same = put(admin, {"policies": [{"id": p.pk, "amount": 7, "unit": "working_days"}]})
    assert same.status_code == 200 and policy_state() == state


@pytest.mark.django_db
def test_the_page(svc, login, django_assert_max_num_queries):
    agent = login(svc.a_agent)
    with django_assert_max_num_queries(10):
        r = agent.get("/service/policies/")
    html = r.content.decode()
    assert (
        r.status_code == 200
        and "投诉 · 答复客户" in html
        and "7 工作日" in html
        and "policies-save" not in html
    )
    p = reply_policy()
    assert (
        agent.post(
            "/service/policies/", {f"p{p.pk}-amount": "5", f"p{p.pk}-unit": "working_days"}
        ).status_code
        == 404
    )
    assert login(svc.portal_user).get("/service/policies/").status_code == 404

    admin = login(svc.admin)
    assert "policies-save" in admin.get("/service/policies/").content.decode()
    state = policy_state()
    r = admin.post("/service/policies/", {f"p{p.pk}-amount": "abc", f"p{p.pk}-unit": "working_days"})
    assert r.status_code == 400 and r.context["errors"] == ["投诉 · 答复客户：时限须为正整数"]
    r = admin.post("/service/policies/", {f"p{p.pk}-amount": "90", f"p{p.pk}-unit": "working_days"})
    assert r.status_code == 400 and r.context["errors"] == ["投诉 · 答复客户：时限须在 1 至 60 工作日之间"]
    assert policy_state() == state
    r = admin.post("/service/policies/", {f"p{p.pk}-amount": "48", f"p{p.pk}-unit": "hours"})
    assert r.status_code == 302 and r.url.endswith("?saved=1")
    p.refresh_from_db()
    assert (p.amount, p.unit, p.updated_by) == (48, "hours", svc.admin)
