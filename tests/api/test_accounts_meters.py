"""Accounts (立户/销户/过户), premises, service points and meters over the API, with their audit rows."""

from datetime import date

import pytest

from gridcare.core.models import AuditEvent
from gridcare.customers.models import Account, AccountHolding, Meter

from ..factories import AreaFactory
from .conftest import API, db_state


def _open_body(w, **over):
    return {
        "account_number": "3100000099",
        "address": "东关镇新街1号",
        "transformer_area_id": w.area_a.pk,
        "opened_on": "2026-01-05",
        "voltage_level": "380V",
        "contract_capacity_kva": "15.5",
        "tariff_code": "COM-1",
        **over,
    }


def _post(client, path, body):
    return client.post(path, data=body, content_type="application/json")


# ---------------------------------------------------------------- reads


def test_account_detail(w, login):
    body = login(w.a_agent).get(f"{API}/accounts/3100000001").json()
    assert body["customer"] == {"id": w.cust_a.pk, "name": "张*"}
    assert (body["status"], body["opened_on"], body["address"]) == (
        "active",
        "2020-01-01",
        "东关镇人民路18号",
    )
    assert body["service_points"] == [
        {
            "id": w.sp_a.pk,
            "voltage_level": "220V",
            "contract_capacity_kva": "8.0",
            "tariff_code": "RES-TIER",
            "meter_asset_numbers": ["M3100000001"],
        }
    ]


def test_premise_service_point_and_meter(w, login):
    client = login(w.a_reader)
    p = client.get(f"{API}/premises/{w.acct_a.premise_id}").json()
    assert p["accounts"] == [{"account_number": "3100000001", "status": "active"}]
    assert p["service_point_ids"] == [w.sp_a.pk]
    assert p["transformer_area"]["id"] == w.area_a.pk and p["feeder"]["id"] == w.area_a.feeder_id

    sp = client.get(f"{API}/service-points/{w.sp_a.pk}").json()
    assert (sp["account_number"], sp["premise_id"], sp["unit"]["id"]) == (
        "3100000001",
        w.acct_a.premise_id,
        w.station_a.pk,
    )
    assert [m["asset_number"] for m in sp["meters"]] == ["M3100000001"]

    m = client.get(f"{API}/meters/M3100000001").json()
    assert (m["account_number"], m["registers"], m["in_service"]) == ("3100000001", ["total"], True)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/9999999999",
        "/accounts/abc",
        "/premises/999999",
        "/service-points/999999",
        "/meters/NOPE",
        "/topology/areas/999999",
        "/topology/feeders/999999/areas",
        "/customers/999999/accounts",
    ],
)
def test_unknown_objects_are_404(w, login, path):
    assert login(w.admin).get(f"{API}{path}").status_code == 404


# ---------------------------------------------------------------- move-in


def test_account_open(w, login):
    resp = _post(login(w.a_clerk), f"{API}/customers/{w.cust_a.pk}/accounts", _open_body(w))
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["account_number"], body["status"], body["address"]) == (
        "3100000099",
        "active",
        "东关镇新街1号",
    )
    assert body["service_points"][0]["voltage_level"] == "380V"
    assert body["service_points"][0]["contract_capacity_kva"] == "15.5"
    account = Account.objects.get(account_number="3100000099")
    assert account.unit_id == w.station_a.pk and account.opened_on == date(2026, 1, 5)
    assert list(account.holdings.values_list("customer_id", "reason")) == [(w.cust_a.pk, "move_in")]
    e = AuditEvent.objects.get(action="account.open")
    assert (e.actor, e.channel, e.customer_id, e.object_id) == (
        w.a_clerk,
        "api",
        w.cust_a.pk,
        str(account.pk),
    )
    assert e.changes["after"]["account_number"] == "3100000099"


@pytest.mark.parametrize(
    ("over", "field", "fragment"),
    [
        ({"account_number": "310000009"}, "account_number", "10位数字"),
        ({"account_number": "31000000AB"}, "account_number", "10位数字"),
        ({"account_number": "3200000001"}, "account_number", "已存在"),
        ({"transformer_area_id": 999999}, "transformer_area_id", "台区不存在"),
        ({"address": " "}, "address", "不能为空"),
        ({"voltage_level": "9V"}, "voltage_level", "电压等级无效"),
        ({"contract_capacity_kva": "0"}, "contract_capacity_kva", "大于"),
        ({"contract_capacity_kva": "lots"}, "contract_capacity_kva", "须为数字"),
        ({"opened_on": "2026-02-30"}, "opened_on", "有效的日期"),
    ],
)
def test_account_open_bad_input_is_422_and_writes_nothing(w, login, over, field, fragment):
    before = db_state()
    resp = _post(login(w.a_clerk), f"{API}/customers/{w.cust_a.pk}/accounts", _open_body(w, **over))
    assert resp.status_code == 422, resp.content
    detail = resp.json()["detail"]
    assert any(d["field"] == field and fragment in d["message"] for d in detail), detail
    assert db_state() == before


def test_account_open_in_area_of_another_unit_is_refused(w, login):
    before = db_state()
    resp = _post(
        login(w.a_clerk),
        f"{API}/customers/{w.cust_a.pk}/accounts",
        _open_body(w, transformer_area_id=w.area_b.pk),
    )
    assert resp.status_code == 404
    assert db_state() == before


# ---------------------------------------------------------------- move-out


def test_account_close(w, login):
    resp = _post(login(w.a_clerk), f"{API}/accounts/3100000001/close", {"closed_on": "2026-03-01"})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["closed_on"]) == ("closed", "2026-03-01")
    assert AccountHolding.objects.get(account=w.acct_a).valid_to == date(2026, 3, 1)
    e = AuditEvent.objects.get(action="account.close")
    assert (e.actor, e.channel) == (w.a_clerk, "api")
    assert e.changes == {"status": ["active", "closed"], "closed_on": [None, "2026-03-01"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"closed_on": "2019-12-31"}, "closed_on"), ({}, "closed_on"), ({"closed_on": "soon"}, "closed_on")],
)
def test_account_close_bad_input(w, login, body, field):
    before = db_state()
    resp = _post(login(w.a_clerk), f"{API}/accounts/3100000001/close", body)
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == field
    assert db_state() == before


def test_closing_twice_is_422(w, login):
    client = login(w.a_clerk)
    assert _post(client, f"{API}/accounts/3100000001/close", {"closed_on": "2026-03-01"}).status_code == 200
    before = db_state()
    resp = _post(client, f"{API}/accounts/3100000001/close", {"closed_on": "2026-03-02"})
    assert resp.status_code == 422 and resp.json()["detail"][0] == {
        "field": "account",
        "message": "户号已销户",
    }
    assert db_state() == before


# ---------------------------------------------------------------- change of owner


def test_account_transfer_keeps_history(w, login):
    client = login(w.a_clerk)
    resp = _post(
        client,
        f"{API}/accounts/3100000001/transfer",
        {"new_customer_id": w.cust_a2.pk, "effective_on": "2026-04-01"},
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["customer"] == {"id": w.cust_a2.pk, "name": "王**"}
    holdings = client.get(f"{API}/accounts/3100000001/holdings").json()
    assert holdings == [
        {
            "customer": {"id": w.cust_a.pk, "name": "张*"},
            "valid_from": "2020-01-01",
            "valid_to": "2026-04-01",
            "reason": "move_in",
        },
        {
            "customer": {"id": w.cust_a2.pk, "name": "王**"},
            "valid_from": "2026-04-01",
            "valid_to": None,
            "reason": "transfer",
        },
    ]
    events = AuditEvent.objects.filter(action="account.transfer")
    assert {e.customer_id for e in events} == {w.cust_a.pk, w.cust_a2.pk}
    assert all(e.channel == "api" and e.actor == w.a_clerk for e in events)
    assert events[0].changes == {"customer": [w.cust_a.pk, w.cust_a2.pk], "effective_on": "2026-04-01"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"new_customer_id": "same", "effective_on": "2026-04-01"}, "new_customer_id"),
        ({"new_customer_id": "a2", "effective_on": "2019-01-01"}, "effective_on"),
        ({"new_customer_id": 999999, "effective_on": "2026-04-01"}, "new_customer_id"),
        ({"effective_on": "2026-04-01"}, "new_customer_id"),
    ],
)
def test_account_transfer_bad_input(w, login, body, field):
    ids = {"same": w.cust_a.pk, "a2": w.cust_a2.pk}
    body = {
        **body,
        **({"new_customer_id": ids[body["new_customer_id"]]} if body.get("new_customer_id") in ids else {}),
    }
    before = db_state()
    resp = _post(login(w.a_clerk), f"{API}/accounts/3100000001/transfer", body)
    assert resp.status_code == 422, resp.content
    assert resp.json()["detail"][0]["field"] == field
    assert db_state() == before


def test_holdings_query_count(w, login, django_assert_max_num_queries):
    client = login(w.a_clerk)
    _post(
        client,
        f"{API}/accounts/3100000001/transfer",
        {"new_customer_id": w.cust_a2.pk, "effective_on": "2026-04-01"},
    )
    with django_assert_max_num_queries(6):
        assert len(client.get(f"{API}/accounts/3100000001/holdings").json()) == 2


# ---------------------------------------------------------------- meters


def test_meter_install_replaces_the_meter_in_service(w, login):
    client = login(w.a_reader)
    resp = _post(
        client,
        f"{API}/service-points/{w.sp_a.pk}/meters",
        {
            "asset_number": "NEWMETER01",
            "digits": 8,
            "multiplier": 30,
            "has_tou": True,
            "installed_on": "2026-02-01",
        },
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["asset_number"], body["account_number"], body["multiplier"]) == (
        "NEWMETER01",
        "3100000001",
        30,
    )
    assert body["registers"] == ["total", "sharp", "peak", "flat", "valley"]
    assert Meter.objects.get(asset_number="M3100000001").removed_on == date(2026, 2, 1)
    removed = AuditEvent.objects.get(action="meter.remove")
    installed = AuditEvent.objects.get(action="meter.install")
    assert removed.changes == {"removed_on": [None, "2026-02-01"]}
    assert installed.changes["after"]["asset_number"] == "NEWMETER01"
    for e in (removed, installed):
        assert (e.actor, e.channel, e.customer_id) == (w.a_reader, "api", w.cust_a.pk)
    sp = client.get(f"{API}/service-points/{w.sp_a.pk}").json()
    assert [(m["asset_number"], m["in_service"]) for m in sp["meters"]] == [
        ("M3100000001", False),
        ("NEWMETER01", True),
    ]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"asset_number": "M3200000001"}, "asset_number"),  # exists (in another unit, too)
        ({"asset_number": "bad-number!"}, "asset_number"),
        ({"asset_number": "A" * 25}, "asset_number"),
        ({"digits": 3}, "digits"),
        ({"multiplier": -1}, "multiplier"),
        ({"installed_on": None}, "installed_on"),
    ],
)
def test_meter_install_bad_input(w, login, over, field):
    before = db_state()
    body = {"asset_number": "NEWMETER01", "installed_on": "2026-02-01", **over}
    resp = _post(login(w.a_reader), f"{API}/service-points/{w.sp_a.pk}/meters", body)
    assert resp.status_code == 422, resp.content
    assert resp.json()["detail"][0]["field"] == field
    assert db_state() == before


def test_meter_update(w, login):
    client = login(w.a_reader)
    resp = client.patch(
        f"{API}/meters/M3100000001", data={"multiplier": 40, "has_tou": True}, content_type="application/json"
    )
    assert resp.status_code == 200, resp.content
    assert (resp.json()["multiplier"], resp.json()["has_tou"], resp.json()["digits"]) == (40, True, 6)
    e = AuditEvent.objects.get(action="meter.update")
    assert (e.actor, e.channel, e.customer_id) == (w.a_reader, "api", w.cust_a.pk)
    assert e.changes == {"multiplier": [1, 40], "has_tou": [False, True]}


def test_meter_update_bad_input(w, login):
    before = db_state()
    resp = login(w.a_reader).patch(
        f"{API}/meters/M3100000001", data={"digits": 11}, content_type="application/json"
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "digits"
    assert db_state() == before


# ---------------------------------------------------------------- topology


def test_topology(w, login):
    second = AreaFactory(unit=w.station_a, feeder=w.area_a.feeder, area_type="rural")
    client = login(w.dispatcher)
    feeders = client.get(f"{API}/topology/feeders").json()
    assert [f["id"] for f in feeders["items"]] == [w.area_a.feeder_id] and feeders["count"] == 1
    areas = client.get(f"{API}/topology/feeders/{w.area_a.feeder_id}/areas").json()
    assert [(a["id"], a["area_type"]) for a in areas] == [(w.area_a.pk, "urban"), (second.pk, "rural")]
    area = client.get(f"{API}/topology/areas/{w.area_a.pk}").json()
    assert (area["service_point_count"], area["active_account_count"], area["capacity_kva"]) == (
        1,
        1,
        "400.0",
    )
    assert client.get(f"{API}/topology/feeders", {"unit_id": w.station_b.pk}).json()["count"] == 0


def test_feeder_list_query_count(w, login, django_assert_max_num_queries):
    for _ in range(30):
        AreaFactory(unit=w.station_a)
    client = login(w.admin)
    with django_assert_max_num_queries(6):
        body = client.get(f"{API}/topology/feeders").json()
    assert body["count"] == 32 and len(body["items"]) == 32
