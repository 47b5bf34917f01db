"""Permission matrix of every outage events endpoint: anonymous 401; a portal customer 403 (or 404 where an
account lookup answers like a missing account); staff without the permission 403; staff of another unit 404 (or
403 on a create naming another unit's feeder); the right role 2xx — and every refused request changes nothing."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.notify.models import Notification
from gridcare.outages import services as s
from gridcare.outages.models import ImportantContact, Interruption, OutageEvent, OutageScope, PlannedBudget
from tests.factories import UserFactory

API = "/api/v1"
CN = ZoneInfo("Asia/Shanghai")


def soon(days):
    return (timezone.now() + timedelta(days=days)).astimezone(CN).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def u(grid):
    w = grid.world
    w.a_dispatcher = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    w.b_dispatcher = UserFactory(username="b_dispatch", role=Role.DISPATCHER, unit=w.bureau_b)
    w.b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=w.bureau_b)
    w.nounit = UserFactory(username="nounit", role=Role.DISPATCHER, unit=None)
    return w


@pytest.fixture
def ev(u):
    """One event of station A1 in each state."""
    d, m = Actor(user=u.a_dispatcher), Actor(user=u.a_manager)

    def planned(area, day):
        return s.outage_create(
            actor=d,
            kind="planned",
            cause_category="maintenance",
            title=f"检修{area}",
            scope=[("area", area)],
            planned_start=soon(day),
            planned_end=soon(day) + timedelta(hours=4),
        )

    draft = planned("T1", 10)
    submitted = planned("T1", 11)
    s.outage_submit(actor=d, event=submitted)
    approved = planned("T1", 12)
    s.outage_submit(actor=d, event=approved)
    s.outage_approve(actor=m, event=approved)
    published = planned("T2", 13)
    s.outage_submit(actor=d, event=published)
    s.outage_approve(actor=m, event=published)
    s.outage_publish(actor=m, event=published)
    running = s.outage_create(
        actor=d,
        kind="fault",
        cause_category="equipment",
        title="故障",
        scope=[("area", "T3")],
        planned_start=timezone.now() - timedelta(hours=1),
        planned_end=timezone.now() + timedelta(hours=2),
    )
    return type("Ev", (), {k: v.number for k, v in locals().items() if isinstance(v, OutageEvent)})


def state():
    return (
        list(
            OutageEvent.objects.order_by("pk").values_list(
                "number", "status", "title", "version", "planned_start"
            )
        ),
        OutageScope.objects.count(),
        list(Interruption.objects.order_by("pk").values_list("customers", "end")),
        list(ImportantContact.objects.values_list("account_id", "contacted_at")),
        list(PlannedBudget.objects.values_list("unit_id", "year", "customer_hours")),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


def call(client, method, path, body):
    if method == "get":
        return client.get(API + path)
    return getattr(client, method)(API + path, data=body or {}, content_type="application/json")


def matrix(login, u, method, path, body, refused: dict, ok, ok_status=200):
    for who, status in refused.items():
        before = state()
        user = getattr(u, who) if who else None
        r = call(login(user), method, path, body)
        assert r.status_code == status, (who, r.status_code, r.content)
        assert state() == before, who
    r = call(login(getattr(u, ok)), method, path, body)
    assert r.status_code == ok_status, r.content
    return r


STAFF_NO_DRAFT = {None: 401, "portal_user": 403, "a_agent": 403, "a_manager": 403, "nounit": 403}
STAFF_NO_APPROVE = {None: 401, "portal_user": 403, "a_agent": 403, "a_dispatcher": 403, "nounit": 403}


def test_list(u, ev, login):
    r = matrix(login, u, "get", "/outages", None, {None: 401, "portal_user": 403, "nounit": 403}, "a_agent")
    assert r.json()["count"] == 5
    assert login(u.b_dispatcher).get(f"{API}/outages").json()["count"] == 0  # another unit: none of A's


def test_create(u, ev, login):
    body = {
        "kind": "planned",
        "cause_category": "maintenance",
        "title": "新检修",
        "scope": [{"level": "area", "code": "T3"}],
        "planned_start": soon(30).isoformat(),
        "planned_end": (soon(30) + timedelta(hours=2)).isoformat(),
    }
    refused = {**STAFF_NO_DRAFT, "b_dispatcher": 403}  # bureau B's dispatcher, station A1's area
    r = matrix(login, u, "post", "/outages", body, refused, "a_dispatcher", 201)
    assert r.json()["status"] == "draft"


def test_detail(u, ev, login):
    refused = {None: 401, "portal_user": 403, "nounit": 403, "b_dispatcher": 404}
    matrix(login, u, "get", f"/outages/{ev.draft}", None, refused, "a_agent")
    assert login(u.a_agent).get(f"{API}/outages/TD000000000000").status_code == 404


def test_submit(u, ev, login):
    refused = {**STAFF_NO_DRAFT, "b_dispatcher": 404}
    assert (
        matrix(login, u, "post", f"/outages/{ev.draft}/submit", None, refused, "a_dispatcher").json()[
            "status"
        ]
        == "submitted"
    )


def test_patch(u, ev, login):
    refused = {None: 401, "portal_user": 403, "a_agent": 403, "nounit": 403, "b_dispatcher": 404}
    r = matrix(login, u, "patch", f"/outages/{ev.draft}", {"title": "改名"}, refused, "a_dispatcher")
    assert r.json()["title"] == "改名"


def test_approve(u, ev, login):
    refused = {**STAFF_NO_APPROVE, "b_manager": 404}
    assert (
        matrix(login, u, "post", f"/outages/{ev.submitted}/approve", {}, refused, "a_manager").json()[
            "status"
        ]
        == "approved"
    )


def test_reject(u, ev, login):
    refused = {**STAFF_NO_APPROVE, "b_manager": 404}
    r = matrix(login, u, "post", f"/outages/{ev.submitted}/reject", {"reason": "不清"}, refused, "a_manager")
    assert r.json()["status"] == "rejected"


def test_publish(u, ev, login):
    refused = {**STAFF_NO_APPROVE, "b_manager": 404}
    assert (
        matrix(login, u, "post", f"/outages/{ev.approved}/publish", None, refused, "a_manager").json()[
            "status"
        ]
        == "published"
    )


def test_start(u, ev, login):
    refused = {**STAFF_NO_DRAFT, "b_dispatcher": 404}
    body = {"at": timezone.now().isoformat()}
    assert (
        matrix(login, u, "post", f"/outages/{ev.published}/start", body, refused, "a_dispatcher").json()[
            "status"
        ]
        == "in_progress"
    )


def test_restore(u, ev, login):
    refused = {**STAFF_NO_DRAFT, "b_dispatcher": 404}
    body = {"at": timezone.now().isoformat()}
    assert (
        matrix(login, u, "post", f"/outages/{ev.running}/restore", body, refused, "a_dispatcher").json()[
            "status"
        ]
        == "restored"
    )


def test_contacts(u, ev, login):
    refused = {**STAFF_NO_DRAFT, "b_dispatcher": 404}
    body = {"account_number": "3100000200", "method": "visit", "confirmed_by_name": "李主任"}
    r = matrix(login, u, "post", f"/outages/{ev.published}/contacts", body, refused, "a_dispatcher")
    assert r.json()["counts"]["contacts_confirmed"] == 1


def test_cancel(u, ev, login):
    # a published outage is the manager's to cancel: the dispatcher gets the same 404 as another unit
    refused = {
        None: 401,
        "portal_user": 403,
        "a_agent": 403,
        "nounit": 403,
        "b_manager": 404,
        "a_dispatcher": 404,
    }
    r = matrix(login, u, "post", f"/outages/{ev.published}/cancel", {"reason": "天气"}, refused, "a_manager")
    assert r.json()["status"] == "cancelled"
    r = matrix(
        login,
        u,
        "post",
        f"/outages/{ev.draft}/cancel",
        {"reason": "不做了"},
        {"b_dispatcher": 404},
        "a_dispatcher",
    )
    assert r.json()["status"] == "cancelled"


def test_budget(u, ev, login):
    body = {"unit": u.station_a.pk, "year": 2026, "customer_hours": "800"}
    refused = {**STAFF_NO_APPROVE, "b_manager": 404}
    assert (
        matrix(login, u, "post", "/outages/budgets", body, refused, "a_manager").json()["budget"] == "800.00"
    )


def test_account_outages(u, ev, login):
    refused = {None: 401, "portal_user": 404, "nounit": 404, "b_dispatcher": 404}
    r = matrix(login, u, "get", "/accounts/3100000200/outages", None, refused, "a_agent")
    assert [o["number"] for o in r.json()["outages"]] == [ev.published]
