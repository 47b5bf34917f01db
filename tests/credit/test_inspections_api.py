"""用电检查 API (issue 17 §2): the permission matrix (anonymous, customer, staff without credit.view / credit.record,
the inspector of another unit, the inspector of the unit), filters and paging, perform / refused / notice / done,
422s naming the field and nothing written on any refusal. Dates are far in the past or the future, so nothing
depends on the day the tests run."""

import re
from datetime import date

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.credit import checklist
from gridcare.credit import inspections as svc
from gridcare.credit.models import CreditEvent, Inspection, InspectionItem, RectificationNotice

from .conftest import NOW

API = "/api/v1/credit"
PAST = "2025-06-10"


def body_items(**results):
    return [
        {
            "code": item.code,
            "result": results.get(item.code, ("ok", ""))[0],
            "finding": results.get(item.code, ("", ""))[1],
        }
        for item in checklist.DEFAULT_CHECKLIST
    ]


@pytest.fixture
def aw(cw):
    w = cw
    a = Actor(user=w.inspector, channel=Channel.CONSOLE)
    w.late = svc.inspection_create(actor=a, customer_id=w.power_a.pk, due_on=date(2020, 1, 1), now=NOW)
    w.ahead = svc.inspection_create(actor=a, customer_id=w.cust_a.pk, due_on=date(2099, 1, 1), now=NOW)
    w.other = svc.inspection_create(
        actor=Actor(user=w.b_inspector, channel=Channel.CONSOLE),
        customer_id=w.cust_b.pk,
        due_on=date(2020, 1, 1),
        now=NOW,
    )
    return w


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def perform_body(**kw):
    return {
        "items": body_items(facilities=("defect", "配电室漏水")),
        "summary": "有问题",
        "performed_on": PAST,
        **kw,
    }


def snapshot():
    return (
        list(Inspection.objects.order_by("id").values_list("id", "status", "inspector_id")),
        InspectionItem.objects.count(),
        CreditEvent.objects.count(),
        RectificationNotice.objects.count(),
    )


# ---------------------------------------------------------------- the permission matrix


def test_anonymous_401(aw, login):
    c = login()
    assert c.get(f"{API}/inspections").status_code == 401
    assert c.get(f"{API}/inspections/{aw.late.pk}").status_code == 401
    assert c.get(f"{API}/notices").status_code == 401
    assert post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body()).status_code == 401
    assert post(c, f"{API}/inspections", {"customer_id": aw.power_a.pk, "due_on": PAST}).status_code == 401


@pytest.mark.parametrize("who", ["portal_user", "a_reader"])
def test_without_credit_view(aw, login, who):
    before = snapshot()
    c = login(getattr(aw, who))
    assert c.get(f"{API}/inspections").status_code == 403
    assert c.get(f"{API}/notices").status_code == 403
    assert c.get(f"{API}/inspections/{aw.late.pk}").status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body()).status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/refused", {"performed_on": PAST}).status_code == 404
    assert post(c, f"{API}/inspections", {"customer_id": aw.power_a.pk, "due_on": PAST}).status_code == 403
    assert snapshot() == before


def test_staff_without_credit_record_reads_only(aw, login):
    before = snapshot()
    c = login(aw.a_agent)
    r = c.get(f"{API}/inspections")
    assert r.status_code == 200
    assert {row["id"] for row in r.json()["items"]} == {aw.late.pk, aw.ahead.pk}
    assert c.get(f"{API}/inspections/{aw.late.pk}").status_code == 200
    assert post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body()).status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/refused", {"performed_on": PAST}).status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/notice", {}).status_code == 404
    assert post(c, f"{API}/inspections", {"customer_id": aw.power_a.pk, "due_on": PAST}).status_code == 403
    assert snapshot() == before


def test_inspector_of_another_unit(aw, login):
    before = snapshot()
    c = login(aw.b_inspector)
    r = c.get(f"{API}/inspections")
    assert [row["id"] for row in r.json()["items"]] == [aw.other.pk]
    assert c.get(f"{API}/inspections/{aw.late.pk}").status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body()).status_code == 404
    assert post(c, f"{API}/inspections/{aw.late.pk}/refused", {"performed_on": PAST}).status_code == 404
    assert post(c, f"{API}/inspections", {"customer_id": aw.power_a.pk, "due_on": PAST}).status_code == 404
    assert snapshot() == before


# ---------------------------------------------------------------- the inspector of the unit


def test_list_filters_and_detail(aw, login):
    c = login(aw.inspector)
    r = c.get(f"{API}/inspections")
    assert r.status_code == 200
    data = r.json()
    assert data["count"] == 2 and data["page"] == 1
    rows = {row["id"]: row for row in data["items"]}
    assert rows[aw.late.pk]["overdue"] is True and rows[aw.ahead.pk]["overdue"] is False
    assert rows[aw.late.pk]["customer_name"] == "东关机械厂"
    assert "phone" not in rows[aw.late.pk]
    ids = lambda q: [row["id"] for row in c.get(f"{API}/inspections?{q}").json()["items"]]  # noqa: E731
    assert ids("due_before=2021-01-01") == [aw.late.pk]
    assert ids("due_after=2021-01-01") == [aw.ahead.pk]
    assert ids(f"customer_id={aw.cust_a.pk}") == [aw.ahead.pk]
    assert ids("status=done") == []
    assert ids("inspector=me") == []
    assert ids("page_size=1&page=2") == [aw.ahead.pk]
    d = c.get(f"{API}/inspections/{aw.late.pk}").json()
    assert d["kind"] == "special" and d["notice"] is None and d["events"] == []
    assert [i["code"] for i in d["items"]] == list(checklist.CODES)
    assert all(i["result"] == "" for i in d["items"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("due_before=2026-02-30", "due_before"),
        ("due_after=1900-01-01", "due_after"),
        ("inspector=you", "inspector"),
        ("customer_id=0", "customer_id"),
        ("customer_id=abc", "customer_id"),
        ("page=0", "page"),
        ("page_size=500", "page_size"),
    ],
)
def test_list_bad_query_422(aw, login, query, field):
    r = login(aw.inspector).get(f"{API}/inspections?{query}")
    assert r.status_code == 422
    assert field in [d["field"] for d in r.json()["detail"]]


def test_perform_notice_done_flow(aw, login):
    c = login(aw.inspector)
    r = post(
        c,
        f"{API}/inspections/{aw.late.pk}/perform",
        perform_body(
            items=body_items(
                electrician=("defect", "3人无证"),
                rules=("defect", "无制度"),
                anti_theft=("defect", "疑似窃电"),
            ),
            unqualified_electricians=3,
        ),
    )
    assert r.status_code == 200, r.content
    d = r.json()
    assert (d["status"], d["performed_on"], d["inspector_id"]) == ("done", PAST, aw.inspector.pk)
    codes = {e["code"]: e for e in d["events"]}
    assert set(codes) == {"unqualified_electrician", "rules_missing"}
    assert codes["unqualified_electrician"]["count"] == 3
    assert all(e["status"] == "pending" and e["date"] == PAST for e in d["events"])
    # performed twice: 422 on status, nothing more written
    before = snapshot()
    again = post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body())
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "status"
    assert snapshot() == before
    # the notice: default deadline 2025-06-10 + 30 days = 2025-07-10
    r = post(c, f"{API}/inspections/{aw.late.pk}/notice", {})
    assert r.status_code == 201, r.content
    n = r.json()
    assert n["deadline"] == "2025-07-10" and n["status"] == "open"
    assert re.fullmatch(r"ZG\d{8}0001", n["number"])
    assert "进网作业电工持证：3人无证" in n["requirements"]
    assert c.get(f"{API}/inspections/{aw.late.pk}").json()["notice_id"] == n["id"]
    assert post(c, f"{API}/inspections/{aw.late.pk}/notice", {}).status_code == 422
    lst = c.get(f"{API}/notices?status=open").json()
    assert [x["id"] for x in lst["items"]] == [n["id"]]
    assert c.get(f"{API}/notices?status=nope").status_code == 422
    # another unit's inspector and a reader cannot mark it done
    for user in (aw.b_inspector, aw.a_agent):
        assert post(login(user), f"{API}/notices/{n['id']}/done", {"done_on": PAST}).status_code == 404
    r = post(c, f"{API}/notices/{n['id']}/done", {"done_on": "2099-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "done_on"
    r = post(c, f"{API}/notices/{n['id']}/done", {"done_on": "2025-07-01"})
    assert (
        r.status_code == 200
        and r.json()["status"] == "done"
        and r.json()["verified_by_id"] == aw.inspector.pk
    )


def test_refused_and_special_create(aw, login):
    c = login(aw.inspector)
    r = post(c, f"{API}/inspections/{aw.late.pk}/refused", {"performed_on": PAST, "note": "拒绝"})
    assert r.status_code == 200
    assert r.json()["status"] == "refused"
    assert [(e["code"], e["status"]) for e in r.json()["events"]] == [("inspection_refused", "pending")]
    r = post(c, f"{API}/inspections", {"customer_id": aw.power_a.pk, "due_on": "2099-02-01", "note": "专项"})
    assert r.status_code == 201
    assert (r.json()["kind"], r.json()["due_on"]) == ("special", "2099-02-01")
    assert post(c, f"{API}/inspections", {"customer_id": 987654, "due_on": PAST}).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": body_items(electrician=("defect", "无证"))}, "unqualified_electricians"),
        ({"items": body_items(), "unqualified_electricians": 2}, "unqualified_electricians"),
        ({"unqualified_electricians": 0}, "unqualified_electricians"),
        ({"items": body_items(rules=("defect", ""))}, "items.3.finding"),
        ({"items": body_items()[:-1]}, "items"),
        ({"items": [*body_items()[:-1], {"code": "x", "result": "ok"}]}, "items.9.code"),
        ({"items": [{"code": "facilities", "result": "maybe"}]}, "items.0.result"),
        ({"performed_on": "2099-01-01"}, "performed_on"),
        ({"performed_on": "1999-12-31"}, "performed_on"),
        ({"performed_on": "not a date"}, "performed_on"),
        ({"summary": "a\u0000b"}, "summary"),
        ({"items": "nope"}, "items"),
    ],
)
def test_perform_bad_input_422(aw, login, body, field):
    before = snapshot()
    r = post(login(aw.inspector), f"{API}/inspections/{aw.late.pk}/perform", perform_body(**body))
    assert r.status_code == 422, r.content
    assert field in [d["field"] for d in r.json()["detail"]]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("inspections", {"customer_id": 0, "due_on": PAST}, "customer_id"),
        ("inspections", {"customer_id": 1, "due_on": "2026-02-30"}, "due_on"),
        ("inspections", {"due_on": PAST}, "customer_id"),
        ("inspections/{late}/refused", {}, "performed_on"),
        ("inspections/{late}/refused", {"performed_on": "2099-01-01"}, "performed_on"),
        ("inspections/{late}/notice", {"deadline": "x"}, "deadline"),
        ("notices/1/done", {}, "done_on"),
    ],
)
def test_other_bad_input_422(aw, login, url, body, field):
    before = snapshot()
    r = post(login(aw.inspector), f"{API}/" + url.format(late=aw.late.pk), body)
    assert r.status_code == 422, r.content
    assert field in [d["field"] for d in r.json()["detail"]]
    assert snapshot() == before


def test_notice_deadline_before_performed_422(aw, login):
    c = login(aw.inspector)
    post(c, f"{API}/inspections/{aw.late.pk}/perform", perform_body())
    r = post(c, f"{API}/inspections/{aw.late.pk}/notice", {"deadline": "2025-06-09"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "deadline"
    r = post(c, f"{API}/inspections/{aw.ahead.pk}/notice", {})  # not performed
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "status"
    assert not RectificationNotice.objects.exists()


@pytest.mark.parametrize("bad_id", ["0", "987654", str(2**63), str(10**30)])
def test_missing_ids_404(aw, login, bad_id):
    c = login(aw.inspector)
    assert c.get(f"{API}/inspections/{bad_id}").status_code in (404, 422)
    assert post(c, f"{API}/inspections/{bad_id}/perform", perform_body()).status_code in (404, 422)
    assert post(c, f"{API}/notices/{bad_id}/done", {"done_on": PAST}).status_code in (404, 422)


def test_not_json_body(aw, login):
    r = login(aw.inspector).post(
        f"{API}/inspections/{aw.late.pk}/perform", "{", content_type="application/json"
    )
    assert r.status_code in (400, 422)
