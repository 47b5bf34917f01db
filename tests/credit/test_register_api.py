"""API of the credit-event register: the permission matrix (anonymous, customer, staff without the permission,
staff of another unit, staff with it — and nothing written when refused), the flows, and 422s naming the field."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.credit.events import event_create
from gridcare.credit.models import CreditContest, CreditEvent, CreditEvidence
from gridcare.customers.models import PortalBinding

from .conftest import NOW

BASE = "/api/v1/credit"
PDF = b"%PDF-1.4\n% evidence\n"


def body(cw, **kw):
    b = {"customer_id": cw.power_a.pk, "code": "theft", "date": "2024-11-20", "description": "私接电源"}
    b.update(kw)
    return b


def post(c, url, data=None):
    return c.post(url, data or {}, content_type="application/json")


@pytest.fixture
def arrears(cw):
    return event_create(
        actor=Actor(),
        customer_id=cw.cust_a.pk,
        unit_id=cw.cust_a.unit_id,
        code="arrears",
        day=date(2026, 9, 21),
        source="ledger",
        status="active",
        account_id=cw.acct_a.pk,
        severity=2,
        source_key=f"arrears:{cw.acct_a.pk}:2026-08",
        now=NOW,
    )


def test_list_matrix(cw, login, arrears):
    assert login().get(f"{BASE}/events").status_code == 401
    assert login(cw.portal_user).get(f"{BASE}/events").status_code == 403
    assert login(cw.a_reader).get(f"{BASE}/events").status_code == 403  # no credit.view
    assert login(cw.b_manager).get(f"{BASE}/events").json()["count"] == 0  # another unit
    page = login(cw.a_clerk).get(f"{BASE}/events").json()
    assert page["count"] == 1
    row = page["items"][0]
    assert (row["code"], row["severity"], row["status"], row["account_number"], row["dimension"]) == (
        "arrears",
        2,
        "active",
        "3100000001",
        "payment",
    )
    assert row["customer_name"] != "张三"  # masked for staff lists
    assert login(cw.b_manager).get(f"{BASE}/events/{arrears.pk}").status_code == 404
    assert login(cw.a_reader).get(f"{BASE}/events/{arrears.pk}").status_code == 404
    assert login(cw.a_clerk).get(f"{BASE}/events/{arrears.pk}").json()["contests"] == []


def test_list_filters_and_422(cw, login, arrears):
    c = login(cw.a_manager)
    assert c.get(f"{BASE}/events?code=theft").json()["count"] == 0
    assert c.get(f"{BASE}/events?status=active&source=ledger&date_from=2026-09-01").json()["count"] == 1
    assert c.get(f"{BASE}/events?customer_id={cw.cust_a.pk}&date_to=2026-09-20").json()["count"] == 0
    for q, field in [
        ("status=nope", "status"),
        ("code=nope", "code"),
        ("source=nope", "source"),
        ("date_from=2026-10-01&date_to=2026-09-01", "date_to"),
        ("date_from=1900-01-01", "date_from"),
        ("customer_id=abc", "customer_id"),
        ("page=0", "page"),
    ]:
        r = c.get(f"{BASE}/events?{q}")
        assert r.status_code == 422, q
        assert r.json()["detail"][0]["field"] == field, q


def test_record_matrix_and_nothing_written_when_refused(cw, login):
    assert post(login(), f"{BASE}/events", body(cw)).status_code == 401
    assert post(login(cw.portal_user), f"{BASE}/events", body(cw)).status_code == 403
    assert post(login(cw.a_clerk), f"{BASE}/events", body(cw)).status_code == 403  # no credit.record
    assert post(login(cw.b_inspector), f"{BASE}/events", body(cw)).status_code == 404  # another unit
    assert post(login(cw.inspector), f"{BASE}/events", body(cw, customer_id=987654)).status_code == 404
    assert not CreditEvent.objects.exists()
    r = post(login(cw.inspector), f"{BASE}/events", body(cw, inspector_id=cw.inspector.pk))
    assert r.status_code == 201, r.content
    assert (r.json()["status"], r.json()["inspector"], r.json()["recorded_by"]) == (
        "pending",
        "a_inspector",
        "a_inspector",
    )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"code": "arrears"}, "code"),
        ({"code": "bogus"}, "code"),
        ({"severity": 2}, "severity"),
        ({"date": "2100-01-01"}, "date"),
        ({"date": "not-a-date"}, "date"),
        ({"code": "unqualified_electrician"}, "count"),
        ({"code": "unqualified_electrician", "count": 0}, "count"),
        ({"count": 3}, "count"),
        ({"count": 2**70}, "count"),
        ({"customer_id": "x"}, "customer_id"),
        ({"description": "x" * 2001}, "description"),
        ({"description": "a\x00b"}, "description"),
        ({"inspector_id": -1}, "inspector_id"),
    ],
)
def test_record_422(cw, login, kw, field):
    r = post(login(cw.inspector), f"{BASE}/events", body(cw, **kw))
    assert r.status_code == 422, r.content
    assert field in {d["field"] for d in r.json()["detail"]}
    assert not CreditEvent.objects.exists()


def test_evidence_upload_and_download(cw, login):
    e = post(login(cw.inspector), f"{BASE}/events", body(cw)).json()
    url = f"{BASE}/events/{e['id']}/evidence"
    c = login(cw.inspector)
    r = c.post(url, {"file": SimpleUploadedFile("笔录.pdf", PDF, content_type="application/pdf")})
    assert r.status_code == 201 and r.json()["name"] == "笔录.pdf"
    bad = c.post(url, {"file": SimpleUploadedFile("x.exe", b"MZ\x90\x00", content_type="application/pdf")})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "file"
    assert c.post(url, {}).status_code == 422
    refused = login(cw.b_inspector).post(url, {"file": SimpleUploadedFile("y.pdf", PDF)})
    assert refused.status_code == 404
    assert login(cw.a_clerk).post(url, {"file": SimpleUploadedFile("y.pdf", PDF)}).status_code == 404
    assert CreditEvidence.objects.count() == 1
    detail = login(cw.a_clerk).get(f"{BASE}/events/{e['id']}").json()
    ev_id = detail["evidence"][0]["id"]
    got = login(cw.a_clerk).get(f"{url}/{ev_id}")
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    assert login(cw.b_manager).get(f"{url}/{ev_id}").status_code == 404


def test_approval_flow(cw, login):
    e = post(login(cw.a_manager), f"{BASE}/events", body(cw)).json()
    url = f"{BASE}/events/{e['id']}"
    same = post(login(cw.a_manager), f"{url}/approve")
    assert same.status_code == 422 and same.json()["detail"][0]["field"] == "approver"
    assert post(login(cw.inspector), f"{url}/approve").status_code == 404  # no credit.approve
    assert post(login(cw.b_manager), f"{url}/approve").status_code == 404
    assert CreditEvent.objects.get().status == "pending"
    ok = post(login(cw.a_manager2), f"{url}/approve", {"note": "属实"})
    assert ok.status_code == 200 and ok.json()["status"] == "active"
    again = post(login(cw.a_manager2), f"{url}/reject", {"reason": "x"})
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "status"
    e2 = post(login(cw.inspector), f"{BASE}/events", body(cw)).json()
    r = post(login(cw.a_manager), f"{BASE}/events/{e2['id']}/reject", {})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "reason"
    r = post(login(cw.a_manager), f"{BASE}/events/{e2['id']}/reject", {"reason": "证据不足"})
    assert r.json()["status"] == "rejected"
    assert AuditEvent.objects.filter(action__in=["credit.event_approve", "credit.event_reject"]).count() == 2


def test_candidate_confirm_dismiss(cw, login):
    ids = []
    for i in (1, 2):
        ids.append(
            event_create(
                actor=Actor(),
                customer_id=cw.cust_a.pk,
                unit_id=cw.cust_a.unit_id,
                code="wrong_bank_account",
                day=date(2026, 11, 11),
                source="withholding",
                status="candidate",
                source_key=f"withholding:{i}",
            ).pk
        )
    assert post(login(cw.a_clerk), f"{BASE}/events/{ids[0]}/confirm").status_code == 404
    assert post(login(cw.a_manager), f"{BASE}/events/{ids[0]}/confirm").json()["status"] == "active"
    r = post(login(cw.a_manager), f"{BASE}/events/{ids[1]}/dismiss", {})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "note"
    r = post(login(cw.a_manager), f"{BASE}/events/{ids[1]}/dismiss", {"note": "银行原因"})
    assert r.json()["status"] == "dismissed"


def test_contest_flows(cw, login, arrears):
    url = f"{BASE}/events/{arrears.pk}/contest"
    assert post(login(cw.a_reader), url, {"reason": "x"}).status_code == 404
    assert post(login(cw.b_clerk), url, {"reason": "x"}).status_code == 404
    assert post(login(cw.a_clerk), url, {}).status_code == 422
    assert not CreditContest.objects.exists()
    r = post(login(cw.a_clerk), url, {"reason": "客户持凭证到厅"})
    assert r.status_code == 201 and r.json()["channel"] == "hall"
    dup = post(login(cw.cmanager), url, {"reason": "再申诉"})
    assert dup.status_code == 422
    contests = login(cw.a_manager).get(f"{BASE}/contests?status=open").json()
    assert contests["count"] == 1
    cid = contests["items"][0]["id"]
    assert login(cw.a_reader).get(f"{BASE}/contests").status_code == 403
    assert login(cw.a_manager).get(f"{BASE}/contests?status=bad").status_code == 422
    decide = f"{BASE}/contests/{cid}/decide"
    assert post(login(cw.a_clerk), decide, {"decision": "upheld", "note": "x"}).status_code == 404
    assert post(login(cw.b_manager), decide, {"decision": "upheld", "note": "x"}).status_code == 404
    bad = post(login(cw.a_manager), decide, {"decision": "maybe", "note": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "decision"
    ok = post(login(cw.a_manager), decide, {"decision": "annulled", "note": "凭证属实"})
    assert ok.status_code == 200 and ok.json()["status"] == "annulled"
    arrears.refresh_from_db()
    assert arrears.status == "void"
    assert AuditEvent.objects.filter(action="credit.contest_decide").count() == 1


def test_customer_manager_contests_a_customer_they_manage(cw, login):
    e = event_create(
        actor=Actor(),
        customer_id=cw.power_a.pk,
        unit_id=cw.power_a.unit_id,
        code="violation",
        day=date(2026, 11, 1),
        source="staff",
        status="active",
    )
    r = post(login(cw.cmanager), f"{BASE}/events/{e.pk}/contest", {"reason": "客户已补办手续"})
    assert r.status_code == 201 and r.json()["channel"] == "manager"


def test_my_events_and_portal_contest(cw, login, arrears):
    me = login(cw.portal_user)
    assert me.get("/api/v1/my/credit/events").json()["count"] == 0  # not bound yet
    assert login(cw.a_clerk).get("/api/v1/my/credit/events").status_code == 403
    assert login().get("/api/v1/my/credit/events").status_code == 401
    url = f"/api/v1/my/credit/events/{arrears.pk}/contest"
    assert post(me, url, {"reason": "x"}).status_code == 404
    PortalBinding.objects.create(user=cw.portal_user, account=cw.acct_a, created_at=NOW)
    # pending events do not count yet: not listed
    event_create(
        actor=Actor(),
        customer_id=cw.cust_a.pk,
        unit_id=cw.cust_a.unit_id,
        code="theft",
        day=date(2026, 11, 1),
        source="staff",
        status="pending",
    )
    page = me.get("/api/v1/my/credit/events").json()
    assert [i["id"] for i in page["items"]] == [arrears.pk]
    assert page["items"][0]["customer_name"] == "张三" and page["items"][0]["recorded_by"] is None
    assert post(me, url, {"reason": ""}).status_code == 422
    r = post(me, url, {"reason": "已缴清"})
    assert r.status_code == 201 and r.json()["channel"] == "portal"
    assert me.get("/api/v1/my/credit/events").json()["items"][0]["status"] == "contested"
    assert post(login(cw.a_clerk), url, {"reason": "x"}).status_code == 403


def test_missing_ids_answer_404(cw, login):
    c = login(cw.a_manager)
    for url in [f"{BASE}/events/987654", f"{BASE}/events/0", f"{BASE}/events/{2**70}"]:
        assert c.get(url).status_code in (404, 422), url
    assert post(c, f"{BASE}/events/987654/approve").status_code == 404
    assert post(c, f"{BASE}/contests/987654/decide", {"decision": "upheld", "note": "x"}).status_code == 404
