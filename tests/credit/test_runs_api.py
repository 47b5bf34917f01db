"""API and pages of the rating runs and assessments (issue 17 §3): the permission matrix (anonymous, customer,
staff without the permission, another unit, with it), 404 out of scope, 422 naming the field, nothing written when
refused."""

from datetime import date

import pytest

from gridcare.credit.models import CreditEvent, CreditRun, CreditScore, SiteAssessment

from .conftest import NOW


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.fixture
def theft(cw):
    return CreditEvent.objects.create(
        customer=cw.cust_a,
        unit_id=cw.cust_a.unit_id,
        code="theft",
        date=date(2026, 8, 1),
        source="staff",
        status="active",
        recorded_at=NOW,
        updated_at=NOW,
    )


def test_customer_credit_and_rate(cw, login, theft):
    url = f"/api/v1/credit/customers/{cw.cust_a.pk}"
    assert login().get(url).status_code == 401
    assert login(cw.portal_user).get(url).status_code in (403, 404)
    assert login(cw.b_manager).get(url).status_code == 404  # another unit
    body = login(cw.a_agent).get(url).json()  # credit.view
    assert body["rated"] is False and body["grade"] is None and body["history"] == []
    # Rating: an agent may not (404, nothing written); the customer manager may.
    assert post(login(cw.a_agent), f"{url}/rate", {"as_of": "2026-12-01"}).status_code == 404
    assert post(login(cw.b_manager), f"{url}/rate", {}).status_code == 404
    assert not CreditScore.objects.exists()
    r = post(login(cw.cmanager), f"{url}/rate", {"as_of": "2026-12-01"})
    assert r.status_code == 200, r.content
    s = r.json()
    assert (s["grade"], s["total"], s["legal"], s["safety"]) == ("D", "50.0", "0.0", None)
    body = login(cw.a_agent).get(url).json()
    assert (body["grade"], body["total"], body["as_of"], body["rated_class"]) == (
        "D",
        "50.0",
        "2026-12-01",
        "lighting",
    )
    legal = next(d for d in body["dimensions"] if d["name"] == "legal")
    assert legal["max"] == "50" and legal["reasons"][0]["event_id"] == theft.pk
    assert legal["reasons"][0]["label"] == "窃电" and legal["reasons"][0]["points"] == "-30"
    assert [m["code"] for m in body["measures"]] == ["deposit_or_prepaid", "connection_flag"]
    assert body["history"][0]["grade"] == "D"
    # 422 naming the field; 404 for a missing customer.
    r = post(login(cw.cmanager), f"{url}/rate", {"as_of": "2999-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"].endswith("as_of")
    r = post(
        login(cw.cmanager), f"{url}/rate", {"as_of": "2019-01-01"}
    )  # before the customer's first account
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "as_of"
    assert login(cw.a_agent).get("/api/v1/credit/customers/999999").status_code == 404


def test_runs_api(cw, login):
    assert login().get("/api/v1/credit/runs").status_code == 401
    assert login(cw.a_reader).get("/api/v1/credit/runs").status_code == 403
    assert post(login(cw.cmanager), "/api/v1/credit/runs", {"as_of": "2026-11-30"}).status_code == 403
    assert not CreditRun.objects.exists()
    r = post(login(cw.a_manager), "/api/v1/credit/runs", {"as_of": "2026-11-30"})
    assert r.status_code == 200, r.content
    run = r.json()
    assert (run["kind"], run["period"], run["status"]) == ("monthly", "2026-11", "done")
    assert run["customers_rated"] == CreditScore.objects.filter(run_id=run["id"]).count() >= 3
    r = post(login(cw.a_manager), "/api/v1/credit/runs", {"as_of": "2026-11-15"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "as_of"
    r = post(login(cw.a_manager), "/api/v1/credit/runs", {"as_of": "nope"})
    assert r.status_code == 422
    listed = login(cw.a_agent).get("/api/v1/credit/runs?kind=monthly").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == run["id"]
    assert login(cw.a_agent).get(f"/api/v1/credit/runs/{run['id']}").json()["grade_counts"]["AAA"] >= 1
    assert login(cw.a_agent).get("/api/v1/credit/runs/99999").status_code == 404
    assert login(cw.a_agent).get("/api/v1/credit/runs?kind=other").status_code == 422
    # A single-customer run is visible only within the customer's units.
    post(login(cw.cmanager), f"/api/v1/credit/customers/{cw.power_a.pk}/rate", {"as_of": "2026-12-01"})
    single = CreditRun.objects.get(kind="single")
    assert login(cw.b_manager).get(f"/api/v1/credit/runs/{single.pk}").status_code == 404
    assert login(cw.a_agent).get(f"/api/v1/credit/runs/{single.pk}").status_code == 200


def test_assessments_api(cw, login):
    body = {
        "customer_id": cw.power_a.pk,
        "conduct": 4,
        "potential": "3.5",
        "assessed_on": "2026-11-20",
        "note": "走访",
    }
    assert post(login(), "/api/v1/credit/assessments", body).status_code == 401
    assert (
        post(login(cw.a_manager), "/api/v1/credit/assessments", body).status_code == 403
    )  # no credit.assess
    other = {**body, "customer_id": cw.cust_b.pk}
    assert post(login(cw.cmanager), "/api/v1/credit/assessments", other).status_code == 404
    r = post(login(cw.cmanager), "/api/v1/credit/assessments", {**body, "customer_id": cw.cust_a.pk})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "customer_id"
    for field, bad in (
        ("conduct", 5.5),
        ("potential", "4.55"),
        ("conduct", -1),
        ("assessed_on", "2999-01-01"),
    ):
        r = post(login(cw.cmanager), "/api/v1/credit/assessments", {**body, field: bad})
        assert r.status_code == 422 and r.json()["detail"][0]["field"].endswith(field), (field, r.content)
    assert not SiteAssessment.objects.exists()
    r = post(login(cw.cmanager), "/api/v1/credit/assessments", body)
    assert r.status_code == 200, r.content
    a = r.json()
    assert (a["status"], a["conduct"], a["potential"]) == ("pending", "4.0", "3.5")
    listed = login(cw.a_agent).get("/api/v1/credit/assessments?status=pending").json()
    assert listed["count"] == 1
    assert login(cw.b_manager).get("/api/v1/credit/assessments").json()["count"] == 0
    due = login(cw.a_agent).get("/api/v1/credit/assessments/due").json()
    assert cw.power_a.pk in [d["customer_id"] for d in due["items"]]
    review = f"/api/v1/credit/assessments/{a['id']}/review"
    assert post(login(cw.cmanager), review, {"decision": "approve"}).status_code == 404  # no credit.approve
    assert post(login(cw.b_manager), review, {"decision": "approve"}).status_code == 404  # other unit
    r = post(login(cw.a_manager), review, {"decision": "reject"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "note"
    r = post(login(cw.a_manager), review, {"decision": "maybe"})
    assert r.status_code == 422
    assert SiteAssessment.objects.get().status == "pending"
    r = post(login(cw.a_manager), review, {"decision": "approve", "note": "同意"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert (
        post(
            login(cw.a_manager), "/api/v1/credit/assessments/999999/review", {"decision": "approve"}
        ).status_code
        == 404
    )


def test_pages_matrix(cw, login, theft):
    assert login().get("/credit/runs/").status_code == 302
    assert login(cw.a_reader).get("/credit/runs/").status_code == 404
    page = login(cw.a_agent).get("/credit/runs/")
    assert page.status_code == 200 and "开始月度评价" not in page.content.decode()
    assert "开始月度评价" in login(cw.a_manager).get("/credit/runs/").content.decode()
    assert login(cw.a_agent).post("/credit/runs/start/", {"as_of": "2026-11-30"}).status_code == 404
    r = login(cw.a_manager).post("/credit/runs/start/", {"as_of": "2026-11-30"})
    assert r.status_code == 302
    run = CreditRun.objects.get()
    detail = login(cw.a_agent).get(f"/credit/runs/{run.pk}/").content.decode()
    assert "等级分布" in detail and 'data-grade="D"' in detail
    r = login(cw.a_manager).post("/credit/runs/start/", {"as_of": "2026-11-30"})
    assert r.status_code == 400 and "每月只评价一次" in r.content.decode()
    r = login(cw.a_manager).post("/credit/runs/start/", {"as_of": "bad"})
    assert r.status_code == 400
    # Assessments pages.
    assert login(cw.a_agent).get("/credit/assessments/").status_code == 200
    assert login(cw.a_agent).get(f"/credit/assessments/new/?customer={cw.power_a.pk}").status_code == 404
    assert login(cw.cmanager).get(f"/credit/assessments/new/?customer={cw.cust_b.pk}").status_code == 404
    assert login(cw.cmanager).get("/credit/assessments/new/?customer=abc").status_code == 404
    c = login(cw.cmanager)
    assert c.get(f"/credit/assessments/new/?customer={cw.power_a.pk}").status_code == 200
    r = c.post(
        "/credit/assessments/new/",
        {"customer": cw.power_a.pk, "conduct": "6", "potential": "3", "assessed_on": "2026-11-20"},
    )
    assert r.status_code == 400 and not SiteAssessment.objects.exists()
    r = c.post(
        "/credit/assessments/new/",
        {"customer": cw.cust_a.pk, "conduct": "3", "potential": "3", "assessed_on": "2026-11-20"},
    )
    assert r.status_code == 400 and "照明户" in r.content.decode()
    r = c.post(
        "/credit/assessments/new/",
        {
            "customer": cw.power_a.pk,
            "conduct": "4",
            "potential": "3",
            "assessed_on": "2026-11-20",
            "note": "x",
        },
    )
    assert r.status_code == 302
    a = SiteAssessment.objects.get()
    assert login(cw.cmanager).get(f"/credit/assessments/{a.pk}/review/").status_code == 404
    assert login(cw.b_manager).get(f"/credit/assessments/{a.pk}/review/").status_code == 404
    m = login(cw.a_manager)
    assert m.get(f"/credit/assessments/{a.pk}/review/").status_code == 200
    assert m.post(f"/credit/assessments/{a.pk}/review/", {"decision": "reject"}).status_code == 400
    assert m.post(f"/credit/assessments/{a.pk}/review/", {"decision": "approve"}).status_code == 302
    a.refresh_from_db()
    assert a.status == "approved"
    # Rate from the customer page: credit.record only.
    assert login(cw.a_agent).post(f"/credit/customers/{cw.power_a.pk}/rate/").status_code == 404
    r = login(cw.cmanager).post(f"/credit/customers/{cw.power_a.pk}/rate/")
    assert r.status_code == 302 and CreditRun.objects.filter(kind="single", customer=cw.power_a).exists()
