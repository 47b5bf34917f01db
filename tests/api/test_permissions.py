"""The permission matrix for every API endpoint (SPEC §4, STYLE "Tests").

For each endpoint: anonymous → 401; a customer-role user, staff of another unit and staff whose role
lacks the permission are refused (403 on collection routes, 404 on object routes) and nothing
changes; staff with the permission succeed. List routes answer staff of another unit with their own
rows only.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gridcare.core.models import AuditEvent

from ..factories import valid_id_number
from .conftest import API, db_state, send


def _new_customer(w) -> dict[str, Any]:
    return {
        "kind": "person",
        "name": "王五",
        "customer_class": "residential",
        "segment": "household",
        "id_number": valid_id_number(7),
        "phone": "13600001111",
        "unit_id": w.station_a.pk,
    }


def _items(body) -> list[dict]:
    return body["items"] if isinstance(body, dict) else body


def _has_customer_a(w, body) -> bool:
    return any(i["id"] == w.cust_a.pk for i in _items(body))


def _has_feeder_a(w, body) -> bool:
    return any(i["id"] == w.area_a.feeder_id for i in _items(body))


def _has_station_a(w, body) -> bool:
    return any(i["id"] == w.station_a.pk for i in _items(body))


def _has_hall_a(w, body) -> bool:
    return any(i["id"] == w.hall_a.pk for i in _items(body))


def _has_unit_a_event(w, body) -> bool:
    return any(i["unit_id"] in (w.station_a.pk, w.bureau_a.pk) for i in _items(body))


@dataclass
class Case:
    name: str
    method: str
    path: Callable[[Any], str]
    kind: str  # "list" / "create" (collection routes) or "object" / "write" (routes naming an object)
    lacking: str  # a staff user of unit A whose role lacks the permission
    allowed: str
    ok: int = 200
    body: Callable[[Any], dict] | None = None
    leak: Callable[[Any, Any], bool] | None = None  # list routes: does the answer show unit-A rows?
    expect: dict[str, int] = field(default_factory=dict)  # overrides of the derived expectations

    def expected(self, role: str) -> int:
        if role in self.expect:
            return self.expect[role]
        collection = self.kind in ("list", "create")
        if role == "anonymous":
            return 401
        if role == "portal_user" or role == "lacking":
            return 403 if collection else 404
        if role == "b_clerk":
            return {"list": 200, "create": 404}.get(self.kind, 404)
        raise AssertionError(role)


CASES = [
    Case(
        "customer_list",
        "get",
        lambda w: f"{API}/customers",
        "list",
        "nounit",
        "a_agent",
        leak=_has_customer_a,
    ),
    Case("customer_get", "get", lambda w: f"{API}/customers/{w.cust_a.pk}", "object", "nounit", "a_agent"),
    Case(
        "customer_reveal",
        "get",
        lambda w: f"{API}/customers/{w.cust_a.pk}?reveal=true",
        "object",
        "a_agent",
        "a_clerk",
        expect={"lacking": 403},
    ),
    Case(
        "customer_create",
        "post",
        lambda w: f"{API}/customers",
        "create",
        "a_agent",
        "a_clerk",
        ok=201,
        body=_new_customer,
    ),
    Case(
        "customer_update",
        "patch",
        lambda w: f"{API}/customers/{w.cust_a.pk}",
        "write",
        "a_agent",
        "a_clerk",
        body=lambda w: {"name": "张三丰"},
    ),
    Case(
        "customer_accounts",
        "get",
        lambda w: f"{API}/customers/{w.cust_a.pk}/accounts",
        "object",
        "nounit",
        "dispatcher",
    ),
    Case(
        "customer_audit",
        "get",
        lambda w: f"{API}/customers/{w.cust_a.pk}/audit",
        "object",
        "dispatcher",
        "a_agent",
    ),
    Case("account_get", "get", lambda w: f"{API}/accounts/3100000001", "object", "nounit", "a_agent"),
    Case(
        "account_open",
        "post",
        lambda w: f"{API}/customers/{w.cust_a.pk}/accounts",
        "write",
        "a_agent",
        "a_clerk",
        ok=201,
        body=lambda w: {
            "account_number": "3100000099",
            "address": "东关镇新街1号",
            "transformer_area_id": w.area_a.pk,
            "opened_on": "2026-01-05",
        },
    ),
    Case(
        "account_close",
        "post",
        lambda w: f"{API}/accounts/3100000001/close",
        "write",
        "a_agent",
        "a_clerk",
        body=lambda w: {"closed_on": "2026-03-01"},
    ),
    Case(
        "account_transfer",
        "post",
        lambda w: f"{API}/accounts/3100000001/transfer",
        "write",
        "a_agent",
        "admin",
        body=lambda w: {"new_customer_id": w.cust_a2.pk, "effective_on": "2026-04-01"},
    ),
    Case(
        "account_holdings",
        "get",
        lambda w: f"{API}/accounts/3100000001/holdings",
        "object",
        "nounit",
        "a_reader",
    ),
    Case(
        "premise_get",
        "get",
        lambda w: f"{API}/premises/{w.acct_a.premise_id}",
        "object",
        "nounit",
        "dispatcher",
    ),
    Case(
        "service_point_get",
        "get",
        lambda w: f"{API}/service-points/{w.sp_a.pk}",
        "object",
        "nounit",
        "a_reader",
    ),
    Case("meter_get", "get", lambda w: f"{API}/meters/M3100000001", "object", "nounit", "a_reader"),
    Case(
        "meter_install",
        "post",
        lambda w: f"{API}/service-points/{w.sp_a.pk}/meters",
        "write",
        "a_clerk",
        "a_reader",
        ok=201,
        body=lambda w: {"asset_number": "NEWMETER01", "installed_on": "2026-02-01"},
    ),
    Case(
        "meter_update",
        "patch",
        lambda w: f"{API}/meters/M3100000001",
        "write",
        "a_clerk",
        "admin",
        body=lambda w: {"multiplier": 40},
    ),
    Case(
        "feeder_list",
        "get",
        lambda w: f"{API}/topology/feeders",
        "list",
        "nounit",
        "dispatcher",
        leak=_has_feeder_a,
    ),
    Case(
        "feeder_areas",
        "get",
        lambda w: f"{API}/topology/feeders/{w.area_a.feeder_id}/areas",
        "object",
        "nounit",
        "dispatcher",
    ),
    Case(
        "area_get", "get", lambda w: f"{API}/topology/areas/{w.area_a.pk}", "object", "nounit", "dispatcher"
    ),
    Case("unit_list", "get", lambda w: f"{API}/units", "list", "nounit", "a_agent", leak=_has_station_a),
    Case("hall_list", "get", lambda w: f"{API}/halls", "list", "nounit", "a_clerk", leak=_has_hall_a),
    Case(
        "audit_events",
        "get",
        lambda w: f"{API}/audit-events",
        "list",
        "a_reader",
        "a_manager",
        leak=_has_unit_a_event,
    ),
    # A token is the caller's own, not a unit's object: any staff user may create one, customers may not.
    Case(
        "token_create",
        "post",
        lambda w: f"{API}/tokens",
        "create",
        "nounit",
        "a_clerk",
        ok=201,
        body=lambda w: {"name": "营销系统"},
        expect={"b_clerk": 201},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_permission_matrix(w, login, case):
    path, body = case.path(w), case.body(w) if case.body else None
    users = {
        "anonymous": None,
        "portal_user": w.portal_user,
        "b_clerk": w.b_clerk,
        "lacking": getattr(w, case.lacking),
    }
    for role, user in users.items():
        before = db_state()
        resp = send(login(user), case.method, path, body)
        assert resp.status_code == case.expected(role), (role, resp.status_code, resp.content)
        data = resp.json()
        if resp.status_code in (401, 403, 404):
            assert isinstance(data["detail"], str) and data["detail"]
        if case.leak is not None and resp.status_code == 200:
            assert not case.leak(w, data), f"{role} sees unit-A rows"
        if case.name == "token_create" and resp.status_code == 201:
            continue  # b_clerk's own token: a permitted write
        after = db_state()
        if resp.status_code == 200 and case.method == "get":
            # a permitted read that showed personal data whole leaves its customer.view_pii row; nothing else
            old_ids = {e["id"] for e in before["AuditEvent"]}
            after["AuditEvent"] = [
                e for e in after["AuditEvent"] if e["id"] in old_ids or e["action"] != "customer.view_pii"
            ]
        assert after == before, f"{role} changed data"

    resp = send(login(getattr(w, case.allowed)), case.method, path, body)
    assert resp.status_code == case.ok, resp.content
    if case.leak is not None:
        assert case.leak(w, resp.json())


def test_refusals_look_like_missing_objects(w, login):
    """A forbidden object and a missing one answer the same body."""
    b = login(w.b_clerk)
    forbidden = b.get(f"{API}/customers/{w.cust_a.pk}")
    missing = b.get(f"{API}/customers/999999")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content
    agent = login(w.a_agent)
    refused_write = agent.patch(
        f"{API}/customers/{w.cust_a.pk}", data={"name": "x"}, content_type="application/json"
    )
    assert refused_write.status_code == 404 and refused_write.content == missing.content


def test_refused_write_with_bad_input_still_404(w, login):
    """A role that may not write learns nothing from validation: it gets 404, not 422."""
    resp = login(w.a_agent).post(
        f"{API}/customers/{w.cust_a.pk}/accounts",
        data={"account_number": "bad", "address": "", "transformer_area_id": 0, "opened_on": "2026-01-01"},
        content_type="application/json",
    )
    assert resp.status_code == 404


def test_lists_for_other_unit_staff_show_their_own_rows(w, login):
    body = login(w.b_clerk).get(f"{API}/customers").json()
    assert [i["id"] for i in body["items"]] == [w.cust_b.pk] and body["count"] == 1
    units = {u["id"] for u in login(w.b_clerk).get(f"{API}/units").json()}
    assert units == {w.bureau_b.pk, w.station_b.pk}


def test_admin_of_company_sees_every_unit(w, login):
    body = login(w.admin).get(f"{API}/customers").json()
    assert {i["id"] for i in body["items"]} == {w.cust_a.pk, w.cust_b.pk, w.cust_a2.pk}


def test_customer_create_in_unit_outside_subtree_is_refused(w, login):
    before = AuditEvent.objects.count()
    resp = login(w.a_clerk).post(
        f"{API}/customers",
        data={**_new_customer(w), "unit_id": w.station_b.pk},
        content_type="application/json",
    )
    assert resp.status_code == 404
    assert AuditEvent.objects.count() == before


def test_customer_update_cannot_move_customer_out_of_subtree(w, login):
    before = db_state()
    resp = login(w.a_clerk).patch(
        f"{API}/customers/{w.cust_a.pk}", data={"unit_id": w.station_b.pk}, content_type="application/json"
    )
    assert resp.status_code == 404
    assert db_state() == before


def test_transfer_to_customer_of_another_unit_is_unknown_customer(w, login):
    before = db_state()
    resp = login(w.a_clerk).post(
        f"{API}/accounts/3100000001/transfer",
        data={"new_customer_id": w.cust_b.pk, "effective_on": "2026-04-01"},
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "new_customer_id"
    assert db_state() == before
