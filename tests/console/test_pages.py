"""Console pages: the permission matrix, masking, audit of unmasked views, forms with bad input."""

import csv
import html
import io
from datetime import date

import pytest
from django.urls import reverse

from gridcare.core.models import AuditEvent
from gridcare.customers.models import Account, AccountHolding, Customer, Meter

from ..factories import valid_id_number


def snapshot_db():
    return (
        Customer.objects.count(),
        Account.objects.count(),
        AccountHolding.objects.count(),
        Meter.objects.count(),
        AuditEvent.objects.count(),
        list(Customer.objects.order_by("pk").values_list("name", "phone", "unit_id")),
        list(Account.objects.order_by("pk").values_list("status", "customer_id")),
    )


# (name, url-builder, method, permitted user attr, user without the permission, post data builder)
def _customer_post(w):
    return {
        "kind": "person",
        "name": "王五",
        "customer_class": "residential",
        "segment": "household",
        "id_number": valid_id_number(7),
        "phone": "13600001111",
        "unit_id": w.station_a.pk,
    }


PAGES = [
    ("search", lambda w: reverse("console:search") + "?q=张", "get", "a_agent", "dispatcher_none", None),
    (
        "detail",
        lambda w: reverse("console:customer_detail", args=[w.cust_a.pk]),
        "get",
        "a_agent",
        None,
        None,
    ),
    (
        "edit",
        lambda w: reverse("console:customer_edit", args=[w.cust_a.pk]),
        "post",
        "a_clerk",
        "a_agent",
        lambda w: {**_customer_post(w), "name": "张三丰"},
    ),
    ("create", lambda w: reverse("console:customer_create"), "post", "a_clerk", "a_agent", _customer_post),
    (
        "account_open",
        lambda w: reverse("console:account_open", args=[w.cust_a.pk]),
        "post",
        "a_clerk",
        "a_agent",
        lambda w: {
            "account_number": "3100000099",
            "address": "东关镇新街1号",
            "transformer_area_id": w.area_a.pk,
            "opened_on": "2026-01-05",
            "voltage_level": "220V",
            "contract_capacity_kva": "8",
        },
    ),
    (
        "account_close",
        lambda w: reverse("console:account_close", args=[w.acct_a.account_number]),
        "post",
        "a_clerk",
        "a_agent",
        lambda w: {"closed_on": "2026-03-01"},
    ),
    (
        "meter_install",
        lambda w: reverse("console:meter_install", args=[w.acct_a.service_points.get().pk]),
        "post",
        "a_reader",
        "a_agent",
        lambda w: {"asset_number": "NEWMETER01", "digits": 6, "multiplier": 1, "installed_on": "2026-02-01"},
    ),
    (
        "meter_edit",
        lambda w: reverse("console:meter_edit", args=[Meter.objects.get(asset_number="M3100000001").pk]),
        "post",
        "a_reader",
        "a_agent",
        lambda w: {"digits": 8, "multiplier": 1},
    ),
    ("export", lambda w: reverse("console:export") + "?q=张&format=csv", "get", "a_manager", "a_clerk", None),
    ("stats", lambda w: reverse("console:stats"), "get", "a_manager", "a_clerk", None),
]


@pytest.mark.parametrize(
    ("name", "url", "method", "allowed", "denied", "data"), PAGES, ids=[p[0] for p in PAGES]
)
def test_permission_matrix(client, world, name, url, method, allowed, denied, data):
    target = url(world)
    payload = data(world) if data else None
    send = (lambda c: c.post(target, payload)) if method == "post" else (lambda c: c.get(target))
    before = snapshot_db()

    # anonymous: to the login page
    resp = send(client)
    assert resp.status_code == 302 and reverse("console:login") in resp["Location"]
    # a customer of the portal: 404
    client.force_login(world.portal_user)
    assert send(client).status_code == 404
    # staff of another unit (bureau B, same role as the allowed one where the page is unit-bound)
    client.force_login(world.b_clerk)
    other = send(client)
    if name in ("search", "export", "stats", "create"):
        # not unit-bound pages: B either lacks the permission (404) or sees nothing of A
        if other.status_code == 200 and name == "search":
            assert "张三" not in other.content.decode() and "张*" not in other.content.decode()
    else:
        assert other.status_code == 404
    # staff without the permission
    if denied and denied != "dispatcher_none":
        client.force_login(getattr(world, denied))
        assert send(client).status_code == 404
    if method == "post":
        assert snapshot_db() == before, "a refused request changed something"
    # staff with it
    client.force_login(getattr(world, allowed))
    resp = send(client)
    assert resp.status_code in (200, 302), resp.content.decode()[:2000]
    if method == "post":
        assert resp.status_code == 302, resp.content.decode()[:3000]
        assert snapshot_db() != before
        assert AuditEvent.objects.count() > before[4]


def test_search_by_each_key(client, world):
    client.force_login(world.a_clerk)
    for q in ["3100000001", "13812345678", "张三", "人民路", world.cust_a.id_number, "5678"]:
        body = client.get(reverse("console:search"), {"q": q}).content.decode()
        assert f"/customers/{world.cust_a.pk}/" in body, q
        assert f"/customers/{world.cust_b.pk}/" not in body
    # staff of bureau B cannot find A's customer by any key
    client.force_login(world.b_clerk)
    body = client.get(reverse("console:search"), {"q": "3100000001"}).content.decode()
    assert f"/customers/{world.cust_a.pk}/" not in body


def test_detail_masked_and_reveal_audited(client, world):
    client.force_login(world.a_clerk)
    url = reverse("console:customer_detail", args=[world.cust_a.pk])
    body = client.get(url).content.decode()
    assert "138****5678" in body and "13812345678" not in body
    assert world.cust_a.id_number not in body and world.cust_a.id_number[:6] in body
    assert "张*" in body
    n = AuditEvent.objects.filter(action="customer.view_pii").count()
    body = client.get(url + "?reveal=1").content.decode()
    assert "13812345678" in body and world.cust_a.id_number in body
    ev = AuditEvent.objects.filter(action="customer.view_pii").latest("id")
    assert AuditEvent.objects.filter(action="customer.view_pii").count() == n + 1
    assert ev.actor == world.a_clerk and ev.customer_id == world.cust_a.pk and ev.channel == "console"
    # an agent may view but not unmask: the reveal is refused and not audited
    client.force_login(world.a_agent)
    assert client.get(url + "?reveal=1").status_code == 404
    assert AuditEvent.objects.filter(action="customer.view_pii").count() == n + 1


def test_create_bad_input_writes_nothing(client, world):
    client.force_login(world.a_clerk)
    before = snapshot_db()
    good = _customer_post(world)
    bad_id = good["id_number"][:-1] + ("0" if good["id_number"][-1] != "0" else "1")
    resp = client.post(reverse("console:customer_create"), {**good, "id_number": bad_id, "phone": "12345"})
    body = resp.content.decode()
    assert resp.status_code == 400
    assert "校验位错误" in body and "电话号码无效" in body
    # a unit outside the clerk's subtree is not even offered
    resp = client.post(reverse("console:customer_create"), {**good, "unit_id": world.station_b.pk})
    assert resp.status_code == 400
    assert snapshot_db() == before


def test_edit_records_before_and_after(client, world):
    client.force_login(world.a_clerk)
    url = reverse("console:customer_edit", args=[world.cust_a.pk])
    resp = client.post(
        url,
        {
            **_customer_post(world),
            "name": "张三",
            "id_number": world.cust_a.id_number,
            "phone": "13900002222",
        },
    )
    assert resp.status_code == 302
    ev = AuditEvent.objects.filter(action="customer.update").latest("id")
    assert ev.changes["phone"] == ["13812345678", "13900002222"]
    assert "name" not in ev.changes
    # The timeline on the customer page shows the change masked, even to the clerk, until they unmask
    # (audited); an agent, who may not unmask, sees it masked only.
    # It is a table 字段 / 原值 / 新值 with the field's Chinese name, never raw JSON.
    detail = reverse("console:customer_detail", args=[world.cust_a.pk])
    body = html.unescape(client.get(detail).content.decode())
    assert "<td>联系电话</td><td>138****5678</td><td>139****2222</td>" in body and "13900002222" not in body
    assert '"phone": [' not in body and "<td>修改客户资料</td>" in body
    assert "<td>联系电话</td><td>13812345678</td><td>13900002222</td>" in html.unescape(
        client.get(detail + "?reveal=1").content.decode()
    )
    client.force_login(world.a_agent)
    body = html.unescape(client.get(detail).content.decode())
    assert "139****2222" in body and "13900002222" not in body and "13812345678" not in body


def test_open_duplicate_and_malformed_account(client, world):
    client.force_login(world.a_clerk)
    url = reverse("console:account_open", args=[world.cust_a.pk])
    base = {
        "address": "东关镇新街1号",
        "transformer_area_id": world.area_a.pk,
        "opened_on": "2026-01-05",
        "voltage_level": "220V",
        "contract_capacity_kva": "8",
    }
    before = snapshot_db()
    body = client.post(url, {**base, "account_number": "3200000001"}).content.decode()
    assert "已存在" in body
    body = client.post(url, {**base, "account_number": "31000"}).content.decode()
    assert "10位数字" in body
    # another unit's transformer area is not offered to this clerk
    assert (
        client.post(
            url, {**base, "account_number": "3100000077", "transformer_area_id": world.area_b.pk}
        ).status_code
        == 400
    )
    assert snapshot_db() == before


def test_transfer_keeps_history(client, world):
    client.force_login(world.a_clerk)
    other = Customer.objects.create(
        kind="person",
        name="赵六",
        customer_class="residential",
        segment="household",
        id_number=valid_id_number(99),
        phone="13500000000",
        unit=world.station_a,
        created_at=world.cust_a.created_at,
        updated_at=world.cust_a.updated_at,
    )
    url = reverse("console:account_transfer", args=["3100000001"])
    assert client.post(url, {"new_customer_id": other.pk, "effective_on": "2026-06-01"}).status_code == 302
    holdings = list(AccountHolding.objects.filter(account=world.acct_a).order_by("valid_from"))
    assert [(h.customer_id, h.valid_from, h.valid_to) for h in holdings] == [
        (world.cust_a.pk, date(2020, 1, 1), date(2026, 6, 1)),
        (other.pk, date(2026, 6, 1), None),
    ]
    # transferring to a customer of another unit is refused as "not found"
    resp = client.post(url, {"new_customer_id": world.cust_b.pk, "effective_on": "2026-07-01"})
    assert resp.status_code == 400 and "客户不存在" in resp.content.decode()


def test_export_csv_masked_and_xlsx(client, world):
    client.force_login(world.a_manager)
    resp = client.get(reverse("console:export"), {"q": "张三", "format": "csv"})
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][1] == "张*" and rows[1][6] == "138****5678" and rows[1][8] == "3100000001"
    assert AuditEvent.objects.filter(action="customer.export").exists()
    resp = client.get(reverse("console:export"), {"q": "张三", "format": "xlsx"})
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(resp.content)).active
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[1][8] == "3100000001" and values[1][6] == "138****5678"


def test_stats_counts(client, world):
    client.force_login(world.admin)
    resp = client.get(reverse("console:stats"))
    assert resp.context["total"] == 2
    client.force_login(world.a_manager)
    resp = client.get(reverse("console:stats"))
    assert resp.context["total"] == 1  # only bureau A's customer
    assert resp.context["chart"]["by_unit"] == [{"name": "东关供电所", "value": 1}]


def test_search_query_count_is_bounded(client, world, django_assert_max_num_queries):
    from ..factories import CustomerFactory, make_account

    for i in range(30):
        make_account(CustomerFactory(unit=world.station_a, name=f"张{i}"), f"31000010{i:02d}", world.area_a)
    client.force_login(world.a_clerk)
    with django_assert_max_num_queries(12):
        resp = client.get(reverse("console:search"), {"q": "张"})
    assert len(resp.context["rows"]) == 25


def test_login_lockout(client, world, settings):
    url = reverse("console:login")
    for _ in range(settings.GRIDCARE["LOGIN_MAX_FAILURES"]):
        assert client.post(url, {"username": "a_clerk", "password": "wrong"}).status_code == 400
    resp = client.post(url, {"username": "a_clerk", "password": world.password})
    assert (
        resp.status_code == 400 and "用户名或密码错误，或账号已暂时锁定，请稍后再试" in resp.content.decode()
    )
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="user.locked", object_id=str(world.a_clerk.pk)).exists()
    # a customer cannot use the staff login
    resp = client.post(url, {"username": world.portal_user.username, "password": world.password})
    assert resp.status_code == 400


def test_login_ok_redirects_and_rejects_foreign_next(client, world):
    resp = client.post(
        reverse("console:login") + "?next=https://evil.example/",
        {"username": "a_clerk", "password": world.password},
    )
    assert resp.status_code == 302 and resp["Location"] == reverse("console:home")  # the staff home (工作台)


def test_english_switch(client, world):
    client.force_login(world.a_clerk)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = client.get(reverse("console:search")).content.decode()
    assert "Customer search" in body


def test_chinese_by_default_even_for_an_english_browser(client, world):
    client.force_login(world.a_clerk)
    body = client.get(reverse("console:search"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "客户查询" in body and "Customer search" not in body


def test_assign_customer_manager_from_the_form(client, world):
    from ..factories import UserFactory

    cm = UserFactory(username="a_cm", role="customer_manager", unit=world.station_a, display_name="王经理")
    UserFactory(username="b_cm", role="customer_manager", unit=world.station_b)
    client.force_login(world.a_clerk)
    url = reverse("console:customer_edit", args=[world.cust_a.pk])
    page = client.get(url).content.decode()
    assert "王经理" in page and "b_cm" not in page  # only managers of the clerk's units are offered
    data = {
        **_customer_post(world),
        "name": "张三",
        "id_number": world.cust_a.id_number,
        "phone": "13812345678",
        "segment": "important",
        "customer_manager_id": cm.pk,
    }
    assert client.post(url, data).status_code == 302
    world.cust_a.refresh_from_db()
    assert world.cust_a.customer_manager_id == cm.pk
    assert AuditEvent.objects.filter(action="customer.update").latest("id").changes[
        "customer_manager_id"
    ] == [None, cm.pk]
