"""Customers over the API: masking, audited reveal, create/update with audit rows, validation, search."""

import pytest

from gridcare.core.models import AuditEvent
from gridcare.customers.models import Customer

from ..factories import AreaFactory, CustomerFactory, make_account, valid_id_number, valid_uscc
from .conftest import API, db_state


def _new(w, **over):
    return {
        "kind": "person",
        "name": "王五",
        "customer_class": "residential",
        "segment": "household",
        "id_number": valid_id_number(7),
        "phone": "13600001111",
        "unit_id": w.station_a.pk,
        **over,
    }


# ---------------------------------------------------------------- masking and reveal


def test_list_and_detail_mask_personal_data(w, login):
    client = login(w.a_clerk)
    masked_id = w.cust_a.id_number[:6] + "********" + w.cust_a.id_number[-4:]
    row = next(i for i in client.get(f"{API}/customers").json()["items"] if i["id"] == w.cust_a.pk)
    assert (row["name"], row["phone"], row["id_number"], row["masked"]) == (
        "张*",
        "138****5678",
        masked_id,
        True,
    )
    assert row["account_numbers"] == ["3100000001"]

    detail = client.get(f"{API}/customers/{w.cust_a.pk}").json()
    assert (detail["name"], detail["phone"], detail["id_number"]) == ("张*", "138****5678", masked_id)
    assert detail["masked"] is True
    assert "13812345678" not in client.get(f"{API}/customers/{w.cust_a.pk}").content.decode()
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()


def test_organisation_names_are_not_masked(w, login):
    org = CustomerFactory(
        kind="organisation",
        name="东关化工有限公司",
        id_number=valid_uscc(5),
        unit=w.station_a,
        customer_class="large_industry",
        segment="important",
    )
    body = login(w.a_clerk).get(f"{API}/customers/{org.pk}").json()
    assert body["name"] == "东关化工有限公司"
    assert body["id_number"] == org.id_number[:6] + "********" + org.id_number[-4:]


@pytest.mark.parametrize("who", ["a_clerk", "a_manager", "admin"])
def test_reveal_unmasks_and_audits_every_view(w, login, who):
    client = login(getattr(w, who))
    for n in (1, 2):
        body = client.get(f"{API}/customers/{w.cust_a.pk}?reveal=true").json()
        assert (body["name"], body["phone"], body["id_number"], body["masked"]) == (
            "张三",
            "13812345678",
            w.cust_a.id_number,
            False,
        )
        events = AuditEvent.objects.filter(action="customer.view_pii", customer_id=w.cust_a.pk)
        assert events.count() == n
    e = events.first()
    user = getattr(w, who)
    assert (e.actor, e.channel, e.object_id, e.unit_id) == (user, "api", str(w.cust_a.pk), w.station_a.pk)


@pytest.mark.parametrize("who", ["a_agent", "a_reader", "dispatcher"])
def test_reveal_without_pii_permission_is_403_and_not_audited(w, login, who):
    before = db_state()
    resp = login(getattr(w, who)).get(f"{API}/customers/{w.cust_a.pk}?reveal=true")
    assert resp.status_code == 403
    assert "13812345678" not in resp.content.decode()
    assert db_state() == before


# ---------------------------------------------------------------- create and update


def test_create_writes_the_customer_and_its_audit_row(w, login):
    resp = login(w.a_clerk).post(
        f"{API}/customers", data=_new(w, phone="+86 136 0000 1111"), content_type="application/json"
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    c = Customer.objects.get(pk=body["id"])
    assert (c.name, c.phone, c.unit_id) == ("王五", "13600001111", w.station_a.pk)
    assert body["name"] == "王*" and body["phone"] == "136****1111" and body["masked"] is True
    e = AuditEvent.objects.get(action="customer.create")
    assert (e.actor, e.channel, e.customer_id, e.unit_id) == (w.a_clerk, "api", c.pk, w.station_a.pk)
    assert e.changes["after"]["name"] == "王五" and e.changes["after"]["phone"] == "13600001111"


def test_create_without_unit_uses_the_callers_unit(w, login):
    data = _new(w)
    del data["unit_id"]
    resp = login(w.a_clerk).post(f"{API}/customers", data=data, content_type="application/json")
    assert resp.status_code == 201
    assert resp.json()["unit"]["id"] == w.bureau_a.pk


def test_update_changes_only_sent_fields_and_audits_before_after(w, login):
    client = login(w.a_clerk)
    resp = client.patch(
        f"{API}/customers/{w.cust_a.pk}",
        data={"name": "张三丰", "segment": "sme"},
        content_type="application/json",
    )
    assert resp.status_code == 200, resp.content
    w.cust_a.refresh_from_db()
    assert (w.cust_a.name, w.cust_a.segment, w.cust_a.phone) == ("张三丰", "sme", "13812345678")
    e = AuditEvent.objects.get(action="customer.update")
    assert (e.actor, e.channel) == (w.a_clerk, "api")
    assert e.changes == {"name": ["张三", "张三丰"], "segment": ["household", "sme"]}


def test_update_that_changes_nothing_writes_no_audit_row(w, login):
    resp = login(w.a_clerk).patch(
        f"{API}/customers/{w.cust_a.pk}", data={"name": "张三"}, content_type="application/json"
    )
    assert resp.status_code == 200
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_update_moves_customer_within_the_subtree(w, login):
    resp = login(w.a_clerk).patch(
        f"{API}/customers/{w.cust_a.pk}", data={"unit_id": w.bureau_a.pk}, content_type="application/json"
    )
    assert resp.status_code == 200 and resp.json()["unit"]["id"] == w.bureau_a.pk
    assert AuditEvent.objects.get(action="customer.update").changes == {
        "unit_id": [w.station_a.pk, w.bureau_a.pk]
    }


# ---------------------------------------------------------------- validation: 422, field + message, nothing written


def _bad_id_check_digit() -> str:
    good = valid_id_number(3)
    return good[:17] + ("0" if good[17] != "0" else "1")


@pytest.mark.parametrize(
    ("over", "field", "fragment"),
    [
        ({"id_number": _bad_id_check_digit()}, "id_number", "校验位"),
        ({"id_number": "11010519851332001X"}, "id_number", "出生日期"),
        ({"id_number": "12345"}, "id_number", "18位"),
        ({"phone": "12345"}, "phone", "电话号码无效"),
        ({"phone2": "0551"}, "phone2", "电话号码无效"),
        ({"unit_id": 999999}, "unit_id", "供电单位不存在"),
        ({"kind": "robot"}, "kind", "客户类型无效"),
        ({"customer_class": "x"}, "customer_class", "用电类别无效"),
        ({"name": "  "}, "name", "不能为空"),
        ({"email": "nobody"}, "email", "邮箱"),
        ({"kind": "organisation", "id_number": "91110105000000001X"}, "id_number", "统一社会信用代码"),
        ({"phone": 13600001111}, "phone", "须为文本"),
        ({"unit_id": "east"}, "unit_id", "须为整数"),
    ],
)
def test_create_with_bad_input_is_422_and_writes_nothing(w, login, over, field, fragment):
    before = db_state()
    resp = login(w.a_clerk).post(f"{API}/customers", data=_new(w, **over), content_type="application/json")
    assert resp.status_code == 422, resp.content
    detail = resp.json()["detail"]
    assert any(d["field"] == field and fragment in d["message"] for d in detail), detail
    assert db_state() == before


def test_all_field_errors_are_reported_at_once(w, login):
    resp = login(w.a_clerk).post(
        f"{API}/customers",
        data=_new(w, phone="1", id_number="x", unit_id=999999),
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert {d["field"] for d in resp.json()["detail"]} == {"phone", "id_number", "unit_id"}


def test_update_with_bad_input_is_422_and_writes_nothing(w, login):
    before = db_state()
    resp = login(w.a_clerk).patch(
        f"{API}/customers/{w.cust_a.pk}",
        data={"phone": "99", "name": "张三丰"},
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert resp.json()["detail"] == [
        {"field": "phone", "message": "电话号码无效：需为11位手机号或带区号的固定电话"}
    ]
    assert db_state() == before


def test_update_to_unknown_unit_is_422(w, login):
    before = db_state()
    resp = login(w.a_clerk).patch(
        f"{API}/customers/{w.cust_a.pk}", data={"unit_id": 999999}, content_type="application/json"
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "unit_id"
    assert db_state() == before


def test_missing_required_fields_are_named(w, login):
    resp = login(w.a_clerk).post(f"{API}/customers", data={"kind": "person"}, content_type="application/json")
    assert resp.status_code == 422
    assert {"name", "customer_class", "segment", "id_number", "phone"} <= {
        d["field"] for d in resp.json()["detail"]
    }


def test_unparseable_body_is_refused(w, login):
    resp = login(w.a_clerk).post(f"{API}/customers", data="{oops", content_type="application/json")
    assert resp.status_code in (400, 422)
    assert not Customer.objects.filter(name="王五").exists()


def test_non_integer_id_is_422(w, login):
    resp = login(w.a_clerk).get(f"{API}/customers/abc")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "customer_id"


# ---------------------------------------------------------------- search and paging


@pytest.mark.parametrize(
    ("q", "expect"),
    [
        ("3100000001", "cust_a"),
        ("13812345678", "cust_a"),
        ("5678", "cust_a"),
        ("张三", "cust_a"),
        ("人民路", "cust_a"),
        ("王小明", "cust_a2"),
        ("3200000001", None),
    ],
)
def test_search(w, login, q, expect):
    items = login(w.a_clerk).get(f"{API}/customers", {"q": q}).json()["items"]
    assert [i["id"] for i in items] == ([getattr(w, expect).pk] if expect else [])


def test_search_by_id_number(w, login):
    items = login(w.a_clerk).get(f"{API}/customers", {"q": w.cust_a.id_number.lower()}).json()["items"]
    assert [i["id"] for i in items] == [w.cust_a.pk]


def test_filters_and_paging(w, login):
    for _ in range(5):
        CustomerFactory(unit=w.station_a, customer_class="commercial", segment="sme")
    client = login(w.a_clerk)
    body = client.get(f"{API}/customers", {"customer_class": "commercial", "page_size": 2, "page": 3}).json()
    assert (body["count"], body["page"], body["page_size"], len(body["items"])) == (5, 3, 2, 1)
    assert client.get(f"{API}/customers", {"segment": "sme", "unit_id": w.station_b.pk}).json()["count"] == 0
    assert client.get(f"{API}/customers", {"page": 99}).json()["items"] == []
    for bad in ({"page": 0}, {"page_size": 201}, {"segment": "vip"}):
        resp = client.get(f"{API}/customers", bad)
        assert resp.status_code == 422 and resp.json()["detail"][0]["field"] in bad


def test_customer_list_query_count_is_bounded(w, login, django_assert_max_num_queries):
    area = AreaFactory(unit=w.station_a)
    for n in range(40):
        c = CustomerFactory(unit=w.station_a)
        make_account(c, f"33000{n:05d}", area)
        if n % 2:
            make_account(c, f"33100{n:05d}", area)
    client = login(w.a_clerk)
    # session + user, unit subtree (2), count, page, accounts of the page
    with django_assert_max_num_queries(7):
        body = client.get(f"{API}/customers", {"page_size": 50}).json()
    assert len(body["items"]) == 42
    assert max(len(i["account_numbers"]) for i in body["items"]) == 2


# ---------------------------------------------------------------- accounts and timeline of a customer


def test_customer_accounts(w, login):
    make_account(w.cust_a, "3100000002", w.area_a, address="东关镇新街2号")
    body = login(w.a_agent).get(f"{API}/customers/{w.cust_a.pk}/accounts").json()
    assert [a["account_number"] for a in body] == ["3100000001", "3100000002"]
    assert body[0]["customer"] == {"id": w.cust_a.pk, "name": "张*"}
    assert body[1]["address"] == "东关镇新街2号" and body[1]["unit"]["id"] == w.station_a.pk


def test_customer_audit_timeline(w, login):
    clerk = login(w.a_clerk)
    clerk.patch(f"{API}/customers/{w.cust_a.pk}", data={"name": "张三丰"}, content_type="application/json")
    clerk.get(f"{API}/customers/{w.cust_a.pk}?reveal=true")
    body = login(w.a_agent).get(f"{API}/customers/{w.cust_a.pk}/audit").json()
    assert [e["action"] for e in body] == ["customer.view_pii", "customer.update"]
    # The agent may not see personal data: the names in the change are masked (the stored row is whole)
    assert body[1]["changes"] == {"name": ["张*", "张**"]} and body[1]["actor_label"] == "a_clerk"
    full = login(w.a_clerk).get(f"{API}/customers/{w.cust_a.pk}/audit").json()
    assert full[1]["changes"] == {"name": ["张三", "张三丰"]}  # a counter clerk may
    events = login(w.a_agent).get(f"{API}/audit-events", {"customer_id": w.cust_a.pk}).json()["items"]
    assert {"name": ["张*", "张**"]} in [e["changes"] for e in events]
    assert len(login(w.a_agent).get(f"{API}/customers/{w.cust_a.pk}/audit", {"limit": 1}).json()) == 1
