"""Permission matrix of every work-orders endpoint (issue 15): anonymous 401; a portal customer 403 on staff routes
(and a staff user 403 on the customer's routes); staff without the permission 403; staff of another unit 404 (another
customer's order: 404); the right role 2xx — and every refused request changes nothing (orders, events, deadlines,
attachments, audit rows)."""

from datetime import datetime
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.org import services as org_services
from gridcare.service import api, services
from gridcare.service.models import WorkOrder, WorkOrderAttachment, WorkOrderDeadline, WorkOrderEvent
from tests.factories import UserFactory

API = "/api/v1"
NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def u(svc, monkeypatch):
    clock = SimpleNamespace(now=lambda: NOW)
    monkeypatch.setattr(services, "timezone", clock)
    monkeypatch.setattr(api, "timezone", clock)
    svc.b_dispatcher = UserFactory(username="b_dispatch", role=Role.DISPATCHER, unit=svc.bureau_b)
    svc.nounit = UserFactory(username="nounit", role=Role.AGENT, unit=None)
    svc.other_customer = UserFactory(
        username="13600000000", role=Role.CUSTOMER, unit=None, phone="13600000000"
    )
    PortalBinding.objects.create(user=svc.portal_user, account=svc.acct_a, created_at=timezone.now())
    return svc


def make(u, order_type="complaint", **kw):
    kw.setdefault("account_number", "3100000001")
    return services.work_order_create(
        actor=Actor(user=u.a_agent, channel=Channel.CONSOLE),
        order_type=order_type,
        channel="phone",
        now=NOW,
        **kw,
    ).order


@pytest.fixture
def o(u):
    """Orders of station A1: a complaint, a fault accepted (ready to dispatch), a closed consultation with a
    file."""
    agent = Actor(user=u.a_agent, channel=Channel.CONSOLE)
    complaint = make(u)
    fault = make(u, "fault")
    services.work_order_act(actor=agent, order=fault, action="accept", now=NOW)
    closed = make(u, "consultation")
    for action in ("answer", "close"):
        closed = services.work_order_act(actor=agent, order=closed, action=action, now=NOW)
    from gridcare.service.attachments import attachment_add

    att = attachment_add(actor=agent, order=complaint, name="a.png", data=PNG)
    return SimpleNamespace(complaint=complaint.number, fault=fault.number, closed=closed.number, att=att.pk)


def state():
    return (
        list(
            WorkOrder.objects.order_by("pk").values_list(
                "number",
                "status",
                "priority",
                "unit_id",
                "assignee_id",
                "chase_count",
                "escalation_level",
                "substantiated",
                "customer_rating",
            )
        ),  # fmt: skip
        list(WorkOrderEvent.objects.order_by("pk").values_list("pk", flat=True)),
        list(WorkOrderDeadline.objects.order_by("pk").values_list("pk", "due_at", "met_at")),
        list(WorkOrderAttachment.objects.order_by("pk").values_list("pk", flat=True)),
        AuditEvent.objects.count(),
    )


def call(client, method, path, body):
    if method == "get":
        return client.get(API + path)
    if method == "upload":
        return client.post(API + path, {"file": SimpleUploadedFile("p.png", PNG, "image/png")})
    return client.post(API + path, body or {}, content_type="application/json")


def matrix(u, method, path, body, refused: dict, ok: str, ok_status=200):
    """Each refused caller gets its status and changes nothing; then the allowed one succeeds."""
    for who, status in refused.items():
        client = Client()
        if who is not None:
            client.force_login(getattr(u, who))
        before = state()
        r = call(client, method, path, body)
        assert r.status_code == status, (who, r.status_code, r.content)
        assert "detail" in r.json()
        assert state() == before, who
    client = Client()
    client.force_login(getattr(u, ok))
    r = call(client, method, path, body)
    assert r.status_code == ok_status, (ok, r.status_code, r.content)
    return r


NO_STAFF = {None: 401, "portal_user": 403, "nounit": 403}  # anonymous, a customer, staff without a unit
NO_HANDLE = {**NO_STAFF, "a_reader": 403}  # the meter reader views orders but may not handle them


@pytest.mark.django_db
def test_preview(u):
    body = {"type": "complaint", "received_at": "2026-09-24T10:00:00+08:00"}
    matrix(u, "post", "/work-orders/deadlines", body, NO_STAFF, "a_reader")
    matrix(u, "post", "/work-orders/deadlines", body, {}, "b_agent")  # no order, no unit: any staff


@pytest.mark.django_db
def test_create(u):
    body = {"type": "complaint", "account_number": "3100000001"}
    refused = {**NO_HANDLE, "b_agent": 404}  # bureau B's agent, station A1's account
    r = matrix(u, "post", "/work-orders", body, refused, "a_agent", 201)
    assert r.json()["unit_id"] == u.station_a.pk


@pytest.mark.django_db
def test_list(u, o):
    r = matrix(u, "get", "/work-orders", None, NO_STAFF, "a_reader")
    assert r.json()["count"] == 3
    client = Client()
    client.force_login(u.b_agent)
    assert client.get(f"{API}/work-orders").json()["count"] == 0  # another unit: none of A's


@pytest.mark.django_db
def test_detail(u, o):
    matrix(u, "get", f"/work-orders/{o.complaint}", None, {**NO_STAFF, "b_agent": 404}, "a_reader")


@pytest.mark.django_db
def test_action(u, o):
    body = {"action": "accept"}
    r = matrix(
        u, "post", f"/work-orders/{o.complaint}/actions", body, {**NO_HANDLE, "b_agent": 404}, "a_agent"
    )
    assert r.json()["status"] == "accepted"


@pytest.mark.django_db
def test_dispatch(u, o):
    body = {"action": "dispatch", "assignee": "a_dispatch"}
    refused = {**NO_HANDLE, "a_agent": 403, "b_dispatcher": 404}  # an agent may not send crews
    r = matrix(u, "post", f"/work-orders/{o.fault}/actions", body, refused, "a_dispatcher")
    assert r.json()["status"] == "dispatched"


@pytest.mark.django_db
def test_substantiate(u, o):
    body = {"substantiated": False, "note": "经核实不属实"}
    r = matrix(
        u, "post", f"/work-orders/{o.complaint}/substantiate", body, {**NO_HANDLE, "b_agent": 404}, "a_agent"
    )
    assert r.json()["substantiated"] is False


@pytest.mark.django_db
def test_attach(u, o):
    r = matrix(
        u,
        "upload",
        f"/work-orders/{o.complaint}/attachments",
        None,
        {**NO_HANDLE, "b_agent": 404},
        "a_agent",
        201,
    )
    assert r.json()["content_type"] == "image/png"


@pytest.mark.django_db
def test_download(u, o):
    path = f"/work-orders/{o.complaint}/attachments/{o.att}"
    for who, status in {**NO_STAFF, "b_agent": 404}.items():
        client = Client()
        if who is not None:
            client.force_login(getattr(u, who))
        assert client.get(API + path).status_code == status, who
    client = Client()
    client.force_login(u.a_reader)
    r = client.get(API + path)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PNG
    # an attachment of another order, asked through this one: as missing
    assert client.get(f"{API}/work-orders/{o.fault}/attachments/{o.att}").status_code == 404


CUSTOMERS_ONLY = {None: 401, "a_agent": 403, "admin": 403}


@pytest.mark.django_db
def test_my_list(u, o):
    r = matrix(u, "get", "/my/work-orders", None, CUSTOMERS_ONLY, "portal_user")
    assert r.json()["count"] == 3  # the orders on the account bound to them
    client = Client()
    client.force_login(u.other_customer)
    assert client.get(f"{API}/my/work-orders").json()["count"] == 0


@pytest.mark.django_db
def test_my_detail(u, o):
    matrix(
        u,
        "get",
        f"/my/work-orders/{o.complaint}",
        None,
        {**CUSTOMERS_ONLY, "other_customer": 404},
        "portal_user",
    )


@pytest.mark.django_db
def test_my_create(u):
    body = {"type": "opinion", "account_number": "3100000001", "description": "建议增加缴费网点"}
    # another customer: the account is not bound to them (422, the same answer as an unknown account)
    refused = {**CUSTOMERS_ONLY, "other_customer": 422}
    r = matrix(u, "post", "/my/work-orders", body, refused, "portal_user", 201)
    assert r.json()["channel"] == "portal"


@pytest.mark.django_db
def test_my_chase(u, o):
    refused = {**CUSTOMERS_ONLY, "other_customer": 404}
    matrix(u, "post", f"/my/work-orders/{o.complaint}/chase", {"note": "催一下"}, refused, "portal_user")


@pytest.mark.django_db
def test_my_rate(u, o):
    refused = {**CUSTOMERS_ONLY, "other_customer": 404}
    r = matrix(u, "post", f"/my/work-orders/{o.closed}/rate", {"rating": "satisfied"}, refused, "portal_user")
    assert r.json()["customer_rating"] == "satisfied"


@pytest.mark.django_db
def test_bearer_tokens_of_staff_and_customers(u, o):
    _t, staff_key = org_services.api_token_create(actor=Actor(), user=u.a_agent, name="crm")
    _t, customer_key = org_services.api_token_create(actor=Actor(), user=u.portal_user, name="app")
    staff = Client(HTTP_AUTHORIZATION=f"Bearer {staff_key}")
    customer = Client(HTTP_AUTHORIZATION=f"Bearer {customer_key}")
    assert staff.get(f"{API}/work-orders/{o.complaint}").status_code == 200
    assert customer.get(f"{API}/work-orders/{o.complaint}").status_code == 403
    assert customer.get(f"{API}/my/work-orders/{o.complaint}").status_code == 200
    assert staff.get(f"{API}/my/work-orders").status_code == 403
    assert Client(HTTP_AUTHORIZATION="Bearer nope").get(f"{API}/my/work-orders").status_code == 401
