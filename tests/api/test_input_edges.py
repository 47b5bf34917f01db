"""Input a database would choke on (NUL bytes, over-long text, numbers past a column) is a 422, not a 500.

These matter on PostgreSQL, which enforces varchar lengths, numeric precision and integer range, and
refuses NUL in text; SQLite accepts all of them silently.
"""

import pytest

from .conftest import API, db_state

NUL_ERROR = "不能包含空字符（NUL）"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/accounts/31%00", "account_number"),
        ("/accounts/31%00/holdings", "account_number"),
        ("/meters/a%00b", "asset_number"),
        ("/customers?q=%00", "q"),
        ("/audit-events?action=%00", "action"),
        ("/audit-events?object_type=a%00", "object_type"),
    ],
)
def test_nul_in_query_or_path_is_422(w, login, path, field):
    resp = login(w.admin).get(f"{API}{path}")
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": field, "message": NUL_ERROR}]


def _customer(w, **over):
    return {
        "kind": "person",
        "name": "王五",
        "customer_class": "residential",
        "segment": "household",
        "id_number": "11010519850612000X",
        "phone": "13600001111",
        "unit_id": w.station_a.pk,
        **over,
    }


def _account(w, **over):
    return {
        "account_number": "3100000077",
        "address": "东关镇新街7号",
        "transformer_area_id": w.area_a.pk,
        "opened_on": "2026-01-01",
        **over,
    }


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("customers", {"name": "王\x00五"}, "name"),
        ("customers", {"email": "a" * 250 + "@x.cn"}, "email"),
        ("accounts", {"address": "地" * 201}, "address"),
        ("accounts", {"address": "东关\x00"}, "address"),
        ("accounts", {"tariff_code": "T" * 33}, "tariff_code"),
        ("accounts", {"contract_capacity_kva": "1e12"}, "contract_capacity_kva"),
        ("accounts", {"contract_capacity_kva": "8.25"}, "contract_capacity_kva"),
        ("accounts", {"opened_on": "2026-13-01"}, "opened_on"),
        ("meters", {"multiplier": 2**40}, "multiplier"),
        ("meters", {"asset_number": "A\x00"}, "asset_number"),
        ("meter_patch", {"multiplier": 2**40}, "multiplier"),
        ("tokens", {"name": "x\x00"}, "name"),
    ],
)
def test_bad_body_is_422_and_writes_nothing(w, login, route, body, field):
    client = login(w.admin)
    before = db_state()
    if route == "customers":
        resp = client.post(f"{API}/customers", data=_customer(w, **body), content_type="application/json")
    elif route == "accounts":
        resp = client.post(
            f"{API}/customers/{w.cust_a.pk}/accounts",
            data=_account(w, **body),
            content_type="application/json",
        )
    elif route == "meters":
        resp = client.post(
            f"{API}/service-points/{w.sp_a.pk}/meters",
            data={"asset_number": "X1", "installed_on": "2026-01-01", **body},
            content_type="application/json",
        )
    elif route == "meter_patch":
        resp = client.patch(f"{API}/meters/M3100000001", data=body, content_type="application/json")
    else:
        resp = client.post(f"{API}/tokens", data=body, content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert [d["field"] for d in resp.json()["detail"]] == [field]
    assert db_state() == before


def test_one_decimal_place_capacity_is_accepted(w, login):
    resp = login(w.admin).post(
        f"{API}/customers/{w.cust_a.pk}/accounts",
        data=_account(w, contract_capacity_kva=8.5),
        content_type="application/json",
    )
    assert resp.status_code == 201
    assert resp.json()["service_points"][0]["contract_capacity_kva"] == "8.5"


@pytest.mark.parametrize("path", [f"/customers/{2**70}", f"/premises/{2**64}", f"/topology/areas/{2**63}"])
def test_ids_past_the_column_range_are_404(w, login, path):
    assert login(w.admin).get(f"{API}{path}").status_code == 404


def test_page_far_past_the_end_is_empty_and_absurd_page_is_422(w, login):
    client = login(w.admin)
    assert client.get(f"{API}/customers", {"page": 1_000_000}).json()["items"] == []
    assert client.get(f"{API}/customers", {"page": 10**20}).status_code == 422
