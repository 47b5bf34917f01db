"""The outage events API end to end: a dispatcher drafts, a manager approves and publishes, the account lookup
shows the outage with its estimated restoration, the dispatcher restores; lists filter and page; bad bodies
answer 422 naming the field and write nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.notify.models import Notification
from gridcare.outages import services as s
from gridcare.outages.models import OutageEvent, OutageScope
from tests.factories import UserFactory

API = "/api/v1"
CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def people(grid):
    w = grid.world
    w.dispatcher = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    return w


def post(c, path, body=None):
    return c.post(API + path, data=body or {}, content_type="application/json")


def fields(r):
    assert r.status_code == 422, r.content
    return {d["field"] for d in r.json()["detail"]}


def soon(days):
    """Whole hours from the real clock: the API acts now."""
    return (timezone.now() + timedelta(days=days)).astimezone(CN).replace(minute=0, second=0, microsecond=0)


def body(**kw):
    b = {
        "kind": "planned",
        "cause_category": "maintenance",
        "title": "10kV东关一线检修",
        "scope": [{"level": "feeder", "code": "F1"}],
        "planned_start": soon(10).isoformat(),
        "planned_end": (soon(10) + timedelta(hours=8)).isoformat(),
        "work_content": "更换柱上开关",
    }
    b.update(kw)
    return b


def test_draft_approve_publish_lookup_restore_through_http(grid, people, login):
    d, m = login(people.dispatcher), login(people.a_manager)
    r = post(d, "/outages", body())
    assert r.status_code == 201, r.content
    created = r.json()
    number = created["number"]
    # F1 = T1 (4) + T2 (3) accounts; 7 customers × 8 h = 56 customer-hours estimated
    assert (created["status"], created["customers"], created["est_customer_hours"]) == ("draft", 7, "56.00")
    assert created["scope"] == [{"level": "feeder", "code": "F1"}]
    assert post(d, f"/outages/{number}/submit").json()["status"] == "submitted"
    assert (
        post(m, f"/outages/{number}/approve", {"merge_note": "无可合并工作"}).json()["status"] == "approved"
    )
    r = post(m, f"/outages/{number}/publish")
    assert r.status_code == 200, r.content
    detail = r.json()
    assert detail["status"] == "published"
    assert [a["code"] for a in detail["areas"]] == ["T1", "T2"]
    assert detail["counts"] == {
        "areas": 2,
        "customers": 7,
        "mv_users": 3,
        "restored": 0,
        "important": 1,
        "contacts_confirmed": 0,
    }
    assert detail["contacts"] == [
        {
            "account_number": "3100000200",
            "confirmed": False,
            "urgent": False,
            "method": "",
            "contacted_at": None,
        }
    ]
    assert Notification.objects.filter(kind="outage").values("account_id").distinct().count() == 7
    # the 95598 console looks up an account: the outage with its estimated restoration
    r = login(people.a_agent).get(f"{API}/accounts/3100000101/outages")
    assert r.status_code == 200
    out = r.json()
    assert out["account_number"] == "3100000101" and len(out["outages"]) == 1
    row = out["outages"][0]
    assert row["number"] == number and row["area_name"] == "东关1号台区"
    assert datetime.fromisoformat(row["est_restoration"]) == soon(10) + timedelta(hours=8)
    assert row["restored_at"] is None and row["kind_label"] == "计划检修"
    # an account of F2 is not affected
    assert login(people.a_agent).get(f"{API}/accounts/3100000300/outages").json()["outages"] == []
    # the important customer confirmed by phone
    r = post(
        d,
        f"/outages/{number}/contacts",
        {
            "account_number": "3100000200",
            "method": "phone",
            "confirmed_by_name": "王电工",
        },
    )
    assert r.status_code == 200 and r.json()["counts"]["contacts_confirmed"] == 1
    # it starts (now, earlier than planned) and everything comes back an hour later
    start = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    assert post(d, f"/outages/{number}/start", {"at": start.isoformat()}).json()["status"] == "in_progress"
    r = post(
        d,
        f"/outages/{number}/restore",
        {"at": (start + timedelta(hours=1)).isoformat(), "accounts": ["3100000101"]},
    )
    assert r.json()["counts"]["restored"] == 1 and r.json()["status"] == "in_progress"
    row = login(people.a_agent).get(f"{API}/accounts/3100000101/outages").json()["outages"][0]
    assert datetime.fromisoformat(row["restored_at"]) == start + timedelta(hours=1)
    r = post(d, f"/outages/{number}/restore", {"at": (start + timedelta(hours=1)).isoformat()})
    assert r.json()["status"] == "restored"
    # restored within the last 24 h: still shown, with its end
    assert len(login(people.a_agent).get(f"{API}/accounts/3100000100/outages").json()["outages"]) == 1


def test_a_portal_customer_sees_only_bound_accounts(grid, people, login):
    ev = s.outage_create(
        actor=Actor(user=people.dispatcher),
        kind="fault",
        cause_category="equipment",
        title="故障",
        scope=[("area", "T1")],
        planned_start=timezone.now() - timedelta(minutes=10),
        planned_end=timezone.now() + timedelta(hours=2),
    )
    PortalBinding.objects.create(
        user=people.portal_user, account=grid.accounts["T1"][0], created_at=timezone.now()
    )
    c = login(people.portal_user)
    r = c.get(f"{API}/accounts/3100000100/outages")
    assert r.status_code == 200 and [o["number"] for o in r.json()["outages"]] == [ev.number]
    assert c.get(f"{API}/accounts/3100000101/outages").status_code == 404  # not bound to them
    assert c.get(f"{API}/accounts/9999999999/outages").status_code == 404


def test_publishing_too_late_is_422_on_planned_start(grid, people, login):
    d, m = login(people.dispatcher), login(people.a_manager)
    start = soon(3)  # 72 h away at most: a planned outage needs 168
    number = post(
        d,
        "/outages",
        body(planned_start=start.isoformat(), planned_end=(start + timedelta(hours=4)).isoformat()),
    ).json()["number"]
    post(d, f"/outages/{number}/submit")
    post(m, f"/outages/{number}/approve")
    r = m.post(f"{API}/outages/{number}/publish", content_type="application/json")
    assert fields(r) == {"planned_start"}
    assert "计划停电须提前 168 小时发布" in r.json()["detail"][0]["message"]
    assert OutageEvent.objects.get(number=number).status == "approved" and not Notification.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"planned_end": "2030-01-01T00:00:00+08:00", "planned_start": "2030-01-01T00:00:00+08:00"},
            "planned_end",
        ),
        ({"scope": [{"level": "feeder", "code": "NOPE9"}]}, "scope"),
        ({"scope": [{"level": "street", "code": "F1"}]}, "scope.0.level"),
        ({"scope": []}, "scope"),
        ({"kind": "meteor"}, "kind"),
        ({"cause_category": "aliens"}, "cause_category"),
        ({"title": ""}, "title"),
        ({"planned_start": "tomorrow"}, "planned_start"),
    ],
)
def test_bad_bodies_name_the_field_and_write_nothing(grid, people, login, change, field):
    audits = AuditEvent.objects.count()
    r = post(login(people.dispatcher), "/outages", body(**change))
    assert field in fields(r)
    if field == "scope" and change["scope"]:
        assert "NOPE9" in r.json()["detail"][0]["message"]
    assert not OutageEvent.objects.exists() and not OutageScope.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_action_bodies_are_checked(grid, people, login):
    d, m = login(people.dispatcher), login(people.a_manager)
    number = post(d, "/outages", body()).json()["number"]
    assert fields(post(m, f"/outages/{number}/reject", {"reason": "草稿"})) == {"status"}  # not submitted yet
    post(d, f"/outages/{number}/submit")
    assert fields(post(m, f"/outages/{number}/reject", {})) == {"reason"}
    assert fields(post(m, f"/outages/{number}/reject", {"reason": "  "})) == {"reason"}
    assert fields(post(d, f"/outages/{number}/submit")) == {"status"}  # already submitted
    r = post(m, f"/outages/{number}/reject", {"reason": "工作内容不清"})
    assert (r.json()["status"], r.json()["reject_reason"]) == ("rejected", "工作内容不清")
    assert fields(post(d, f"/outages/{number}/restore", {"at": "2020-01-01T00:00:00+08:00"})) == {"status"}
    assert fields(post(d, f"/outages/{number}/contacts", {"account_number": "3100000200"})) == {
        "method",
        "confirmed_by_name",
    }
    # a rejected draft is corrected and submitted again
    r = d.patch(
        f"{API}/outages/{number}", data={"title": "10kV东关一线开关更换"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["title"] == "10kV东关一线开关更换"
    assert post(d, f"/outages/{number}/submit").json()["status"] == "submitted"


def test_list_filters_and_pages(grid, people, login):
    d = login(people.dispatcher)
    base = soon(20).replace(hour=8)  # each work inside its own China day, whatever the time now
    for i, kind in enumerate(["planned", "temporary", "planned"]):
        start = base + timedelta(days=i)
        r = post(
            d,
            "/outages",
            body(
                kind=kind,
                title=f"工作{i}",
                scope=[{"level": "area", "code": "T3"}],
                planned_start=start.isoformat(),
                planned_end=(start + timedelta(hours=2)).isoformat(),
            ),
        )
        assert r.status_code == 201
    c = login(people.a_agent)
    page = c.get(f"{API}/outages?page_size=2").json()
    assert page["count"] == 3 and [e["title"] for e in page["items"]] == ["工作2", "工作1"]
    assert [e["title"] for e in c.get(f"{API}/outages?kind=temporary").json()["items"]] == ["工作1"]
    day1 = (base + timedelta(days=1)).date().isoformat()
    assert [e["title"] for e in c.get(f"{API}/outages?start={day1}&end={day1}").json()["items"]] == ["工作1"]
    assert c.get(f"{API}/outages?unit={people.station_b.pk}").json()["count"] == 0
    assert fields(c.get(f"{API}/outages?kind=meteor")) == {"kind"}
    assert login(people.b_clerk).get(f"{API}/outages").json()["count"] == 0  # bureau B sees none of A's


def test_detail_shows_merge_candidates_and_budget(grid, people, login):
    d, m = login(people.dispatcher), login(people.a_manager)
    first = post(d, "/outages", body()).json()["number"]
    start = soon(25)
    second = post(
        d,
        "/outages",
        body(
            scope=[{"level": "area", "code": "T2"}],
            planned_start=start.isoformat(),
            planned_end=(start + timedelta(hours=2)).isoformat(),
        ),
    ).json()["number"]
    r = post(
        m, "/outages/budgets", {"unit": people.station_a.pk, "year": soon(10).year, "customer_hours": "500"}
    )
    assert r.status_code == 200 and r.json()["budget"] == "500.00"
    detail = m.get(f"{API}/outages/{first}").json()
    assert [c["number"] for c in detail["merge_candidates"]] == [second]
    assert detail["budgets"][0]["budget"] == "500.00"
    assert fields(
        post(m, "/outages/budgets", {"unit": people.station_a.pk, "year": 2025, "customer_hours": "-1"})
    ) == {"customer_hours"}


def test_temporary_maintenance_lists_unconfirmed_important_customers_as_urgent(grid, people, login):
    d, m = Actor(user=people.dispatcher), Actor(user=people.a_manager)
    start = soon(2)  # at least 24 h away
    ev = s.outage_create(
        actor=d,
        kind="temporary",
        cause_category="equipment",
        title="临时消缺",
        scope=[("area", "T2")],
        planned_start=start,
        planned_end=start + timedelta(hours=3),
    )
    s.outage_submit(actor=d, event=ev)
    s.outage_approve(actor=m, event=ev)
    s.outage_publish(actor=m, event=ev)
    c = login(people.a_agent)
    assert [
        (x["account_number"], x["urgent"]) for x in c.get(f"{API}/outages/{ev.number}").json()["contacts"]
    ] == [("3100000200", True)]
    s.outage_contact_record(
        actor=d, event=ev, account_number="3100000200", method="phone", confirmed_by_name="赵经理"
    )
    [row] = c.get(f"{API}/outages/{ev.number}").json()["contacts"]
    assert (row["urgent"], row["confirmed"], row["method"]) == (False, True, "phone")


def test_list_and_detail_queries_do_not_grow_with_rows(grid, people, login):
    d = login(people.dispatcher)
    c = login(people.a_agent)
    start = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)

    def make(i, scope):
        """A fault: frozen at once, so the detail has its areas and groups."""
        b = body(
            kind="fault",
            cause_category="equipment",
            title=f"故障{i}",
            scope=scope,
            planned_start=(start + timedelta(minutes=i)).isoformat(),
            planned_end=(start + timedelta(hours=3)).isoformat(),
        )
        return post(d, "/outages", b).json()["number"]

    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(API + path).status_code == 200
        return len(ctx.captured_queries)

    one = make(0, [{"level": "area", "code": "T1"}])
    small = (queries("/outages"), queries(f"/outages/{one}"))
    many = make(1, [{"level": "area", "code": "T2"}, {"level": "area", "code": "T3"}])  # two areas
    assert queries("/outages") == small[0]
    assert queries(f"/outages/{many}") == small[1]
