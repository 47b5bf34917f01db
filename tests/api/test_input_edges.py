"""Input a database would choke on (NUL bytes, over-long text, numbers past a column) is a 422, not a 500.

These matter on PostgreSQL, which enforces varchar lengths, numeric precision and integer range, and
refuses NUL in text; SQLite accepts all of them silently.
"""

import pytest
from django.test import Client

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


# ---------------------------------------------------------------- any input, any route (issue 11 §3)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # routes whose parameters are plain `str`: the NUL reached PostgreSQL (500) before the middleware
        ("get", "/billing/bills?account_number=%00", None, "account_number"),
        ("get", "/billing/bills?account_number=31%000000001&x=1", None, "account_number"),
        ("post", "/billing/tariffs/A%00/versions", {}, "code"),
        ("post", "/billing/runs", {"period": "2026-10", "route_code": "R\u0000"}, "route_code"),
        (
            "post",
            "/billing/runs",
            {"period": "2026-10", "extra": {"deep": ["ok", "x\u0000"]}},
            "extra.deep.1",
        ),
        ("patch", "/customers/{pk}", {"name\u0000": "王五"}, "name"),
    ],
)
def test_nul_anywhere_in_an_api_request_is_422_on_both_databases(w, login, method, path, body, field):
    client = login(w.admin)
    before = db_state()
    path = f"{API}{path}".replace("{pk}", str(w.cust_a.pk))
    if method == "get":
        resp = client.get(path)
    else:
        resp = getattr(client, method)(path, data=body, content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert resp.json()["detail"] == [{"field": field, "message": NUL_ERROR}]
    assert db_state() == before


def test_nul_in_a_form_body_or_a_console_query_is_refused_with_the_field(w, login):
    # a form-encoded API body (the payment channels post these)
    resp = Client().post(
        f"{API}/pay/alipay/notify",
        data="charset=utf-8&out_trade_no=A%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": "out_trade_no", "message": NUL_ERROR}]
    # a console page: the branded 400, saying which field
    resp = login(w.admin).get("/customers/?q=%00")
    body = resp.content.decode()
    assert resp.status_code == 400 and 'data-testid="error-400"' in body
    assert f"q：{NUL_ERROR}" in body


def test_a_json_text_that_only_looks_like_nul_is_not_refused(w, login):
    # "\\u0000" in JSON is a backslash followed by u0000, not a NUL: the route answers as usual
    resp = login(w.admin).get(f"{API}/billing/bills", {"account_number": "\\u0000"})
    assert resp.status_code == 200 and resp.json() == []


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/audit-events?since=0001-01-01T00:00:00", "since", "0001-01-01"),
        ("/audit-events?since=9999-12-31T23:59:59", "since", "9999-12-31"),
        ("/reports/arrears-ageing?as_of=0001-01-01", "as_of", "0001-01-01"),
    ],
)
def test_dates_outside_the_supported_range_are_422_on_every_route(w, login, path, field, value):
    resp = login(w.admin).get(f"{API}{path}")
    assert resp.status_code == 422, resp.content
    assert resp.json()["detail"] == [
        {"field": field, "message": f"日期须在 2000-01-01 至 2100-12-31 之间：{value}"}
    ]


def test_a_body_date_outside_the_range_is_422_and_writes_nothing(w, login):
    before = db_state()
    resp = login(w.admin).post(
        f"{API}/customers/{w.cust_a.pk}/accounts",
        data=_account(w, opened_on="0001-01-01"),
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert resp.json()["detail"] == [
        {"field": "opened_on", "message": "日期须在 2000-01-01 至 2100-12-31 之间：0001-01-01"}
    ]
    assert db_state() == before


@pytest.mark.parametrize("field", ["notify_sms", "notify_wechat", "notify_email"])
def test_null_for_a_notification_switch_is_422_and_writes_nothing(w, login, field):
    before = db_state()
    resp = login(w.admin).patch(
        f"{API}/customers/{w.cust_a.pk}", data={field: None}, content_type="application/json"
    )
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": field, "message": "须为 true 或 false"}]
    assert db_state() == before
    # true / false still work, and leaving the field out leaves it alone
    resp = login(w.admin).patch(
        f"{API}/customers/{w.cust_a.pk}", data={field: False}, content_type="application/json"
    )
    assert resp.status_code == 200
