"""The public 户号 query, health, audit events, units and halls, and the OpenAPI document."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record
from gridcare.core.models import AuditEvent

from .conftest import API

PUBLIC = f"{API}/public/accounts"


# ---------------------------------------------------------------- public 户号 query


def test_public_query_found_shows_masked_name_address_and_unit(w):
    resp = Client().get(f"{PUBLIC}/3100000001", {"name": "张三"})
    assert resp.status_code == 200
    assert resp.json() == {
        "found": True,
        "account_number": "3100000001",
        "name": "张*",
        "address": "东关镇人****",
        "supply_unit": "东关供电所",
        # no bill issued yet: nothing owed, not a prepaid account
        "amount_due": "0.00",
        "principal_due": "0.00",
        "late_fee": "0.00",
        "unpaid_periods": [],
        "prepaid_balance": None,
    }
    assert resp["Cache-Control"] == "no-store"
    assert "张三" not in resp.content.decode() and "人民路18号" not in resp.content.decode()


def test_public_query_without_name_still_masks(w):
    resp = Client().get(f"{PUBLIC}/3200000001")
    assert resp.status_code == 200 and resp.json()["name"] == "李*"


def test_public_query_misses_are_indistinguishable(w):
    w.acct_b.status = "closed"
    w.acct_b.save(update_fields=["status"])
    client = Client()
    misses = [
        client.get(f"{PUBLIC}/9999999999", {"name": "张三"}),  # unknown
        client.get(f"{PUBLIC}/31000", {"name": "张三"}),  # malformed
        client.get(f"{PUBLIC}/abcdefghij", {"name": "张三"}),  # malformed
        client.get(f"{PUBLIC}/3100000001", {"name": "张四"}),  # name mismatch
        client.get(f"{PUBLIC}/3100000001", {"name": ""}),  # empty name
        client.get(f"{PUBLIC}/3200000001", {"name": "李四"}),  # closed account
    ]
    assert {r.status_code for r in misses} == {404}
    assert len({r.content for r in misses}) == 1
    # X-Request-ID differs on every response and says nothing about the account
    assert (
        len(
            {tuple(sorted((k, v) for k, v in r.items() if k not in ("Date", "X-Request-ID"))) for r in misses}
        )
        == 1
    )
    assert misses[0].json()["found"] is False and misses[0].json()["message"]


def test_public_query_needs_no_credentials_and_ignores_bad_ones(w):
    resp = Client(HTTP_AUTHORIZATION="Bearer garbage").get(f"{PUBLIC}/3100000001", {"name": "张三"})
    assert resp.status_code == 200


def test_public_query_is_rate_limited(w, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "PUBLIC_QUERY_RATE": 3}
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [client.get(f"{PUBLIC}/3100000001", {"name": "张三"}).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = client.get(f"{PUBLIC}/9999999999")
    assert limited.status_code == 429 and limited.json()["found"] is False and limited.json()["message"]
    assert client.get(f"{PUBLIC}/3100000001", {"name": "张三"}).status_code == 429
    # another client is not affected
    assert Client(REMOTE_ADDR="203.0.113.10").get(f"{PUBLIC}/3100000001").status_code == 200


def test_public_query_costs_one_query(w, django_assert_num_queries):
    # the 户号 (one indexed join) with its open bills and its prepaid flag in the same statement; no prepaid
    # estimate for an account not enrolled
    client = Client()
    with django_assert_num_queries(1):
        assert client.get(f"{PUBLIC}/3100000001", {"name": "张三"}).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(f"{PUBLIC}/bad").status_code == 404


# ---------------------------------------------------------------- health


def test_health_is_public_and_touches_no_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = Client().get(f"{API}/health")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


# ---------------------------------------------------------------- audit events


def test_audit_events_are_scoped_and_filtered(w, login):
    clerk = login(w.a_clerk)
    clerk.patch(f"{API}/customers/{w.cust_a.pk}", data={"name": "张三丰"}, content_type="application/json")
    clerk.get(f"{API}/customers/{w.cust_a.pk}?reveal=true")
    login(w.b_clerk).patch(
        f"{API}/customers/{w.cust_b.pk}", data={"name": "李四海"}, content_type="application/json"
    )

    a = login(w.a_manager)
    actions = [e["action"] for e in a.get(f"{API}/audit-events").json()["items"]]
    assert actions == ["customer.view_pii", "customer.update", "hall.create"]  # unit B's rows are not here
    only = a.get(f"{API}/audit-events", {"action": "customer.update"}).json()
    assert only["count"] == 1 and only["items"][0]["changes"] == {"name": ["张三", "张三丰"]}
    assert a.get(f"{API}/audit-events", {"customer_id": w.cust_b.pk}).json()["count"] == 0
    assert a.get(f"{API}/audit-events", {"object_type": "org.servicehall"}).json()["count"] == 1
    by_id = a.get(f"{API}/audit-events", {"object_type": "customers.customer", "object_id": str(w.cust_a.pk)})
    assert by_id.json()["count"] == 2

    b_actions = [e["action"] for e in login(w.b_clerk).get(f"{API}/audit-events").json()["items"]]
    assert b_actions == ["customer.update", "hall.create"]
    everything = login(w.admin).get(f"{API}/audit-events").json()
    # 5 rows, plus one customer.view_pii row for each read above that showed a customer's changes whole
    # (issue 11): a_manager's first list, its action filter and its object filter (customer.update of 张三),
    # b_clerk's list (李四's update); not the reads without a customer's personal data (unit B's customer,
    # the service hall, whose name is nobody's personal data)
    assert everything["count"] == 5 + 4
    views = [
        e
        for e in everything["items"]
        if e["action"] == "customer.view_pii" and e["object_type"] == "core.auditevent"
    ]
    assert [e["actor_label"] for e in views] == ["b_clerk", "a_manager", "a_manager", "a_manager"]


def test_audit_events_since(w, login):
    old = audit_record(actor=Actor(), action="test.old", object_type="x", unit_id=w.station_a.pk)
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    a = login(w.a_manager)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert "test.old" not in [
        e["action"] for e in a.get(f"{API}/audit-events", {"since": since}).json()["items"]
    ]
    naive = timezone.localtime(timezone.now() - timedelta(days=5)).replace(tzinfo=None).isoformat()
    assert "test.old" in [e["action"] for e in a.get(f"{API}/audit-events", {"since": naive}).json()["items"]]
    resp = a.get(f"{API}/audit-events", {"since": "yesterday"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "since"


def test_audit_events_query_count(w, login, django_assert_max_num_queries):
    for n in range(40):
        audit_record(
            actor=Actor(user=w.a_clerk, channel="api"),
            action="test.bulk",
            object_type="x",
            object_id=n,
            unit_id=w.station_a.pk,
        )
    client = login(w.admin)
    with django_assert_max_num_queries(6):
        body = client.get(f"{API}/audit-events", {"page_size": 100}).json()
    assert body["count"] == 42 and len(body["items"]) == 42


# ---------------------------------------------------------------- units and halls


def test_units_and_halls(w, login, django_assert_max_num_queries):
    client = login(w.a_clerk)
    units = client.get(f"{API}/units").json()
    assert [u["code"] for u in units] == ["0101", "010101"]
    assert units[1]["parent_id"] == w.bureau_a.pk and units[1]["level"] == "station"
    admin = login(w.admin)
    with django_assert_max_num_queries(6):
        halls = admin.get(f"{API}/halls").json()
    assert [(h["code"], len(h["counters"])) for h in halls] == [("HA", 2), ("HB", 1)]
    assert halls[0]["counters"][0] == {"id": halls[0]["counters"][0]["id"], "number": 1, "name": "1号窗口"}
    assert halls[0]["unit_name"] == "东关供电所"


# ---------------------------------------------------------------- OpenAPI


EXPECTED_PATHS = {
    "/api/v1/health",
    "/api/v1/audit-events",
    "/api/v1/units",
    "/api/v1/halls",
    "/api/v1/tokens",
    "/api/v1/customers",
    "/api/v1/customers/{customer_id}",
    "/api/v1/customers/{customer_id}/accounts",
    "/api/v1/customers/{customer_id}/audit",
    "/api/v1/accounts/{account_number}",
    "/api/v1/accounts/{account_number}/close",
    "/api/v1/accounts/{account_number}/transfer",
    "/api/v1/accounts/{account_number}/holdings",
    "/api/v1/premises/{premise_id}",
    "/api/v1/service-points/{sp_id}",
    "/api/v1/service-points/{sp_id}/meters",
    "/api/v1/meters/{asset_number}",
    "/api/v1/topology/feeders",
    "/api/v1/topology/feeders/{feeder_id}/areas",
    "/api/v1/topology/areas/{area_id}",
    "/api/v1/public/accounts/{account_number}",
}


def test_openapi_document_lists_every_path(db):
    resp = Client().get(f"{API}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["info"]["title"] == "GridCare API"
    assert EXPECTED_PATHS <= set(doc["paths"])  # the foundation's paths; later apps test their own
    assert set(doc["paths"]["/api/v1/customers"]) == {"get", "post"}
    assert set(doc["paths"]["/api/v1/customers/{customer_id}"]) == {"get", "patch"}
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert "security" not in doc["paths"]["/api/v1/health"]["get"]
    assert "security" not in doc["paths"]["/api/v1/public/accounts/{account_number}"]["get"]
    assert "422" in doc["paths"]["/api/v1/customers"]["post"]["responses"]


@pytest.mark.parametrize("path", ["/docs"])
def test_docs_page_loads(db, path):
    resp = Client().get(f"{API}{path}")
    assert resp.status_code == 200 and b"openapi.json" in resp.content
