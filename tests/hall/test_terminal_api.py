"""The signed terminal routes of the hall and the staff monitoring API and pages (issue 16 §7).

Requests are signed exactly as a terminal signs them (the helper of the payment terminal tests): terminal TA1 of
bureau A stands in hall A; TB1 of bureau B in hall B. The signed routes run on the real clock (the signature
window is checked against it), so these tests assert what does not depend on the hour; the clock-dependent rules
are tested on the services with an injected clock (test_terminal_monitor)."""

import json
import secrets

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.validators import id_check_digit
from gridcare.hall import terminals_monitor as tm
from gridcare.hall.models import MaintenanceTask, TerminalDay, TerminalEvent, TerminalState
from gridcare.payments.channels import terminals
from gridcare.payments.models import TerminalNonce
from tests.factories import UserFactory
from tests.payments.channels.test_terminal import signed

from .conftest import at

pytestmark = pytest.mark.django_db

NUMBER = "11010519800101123" + id_check_digit("11010519800101123")


@pytest.fixture
def tw(hw):
    hw.key_a = terminals.generate_key_pair()
    hw.key_b = terminals.generate_key_pair()
    hw.ta = terminals.terminal_add(actor=Actor(), code="TA1", unit=hw.bureau_a, public_key=hw.key_a[1])
    hw.tb = terminals.terminal_add(actor=Actor(), code="TB1", unit=hw.bureau_b, public_key=hw.key_b[1])
    type(hw.ta).objects.filter(pk=hw.ta.pk).update(hall=hw.hall_a)
    type(hw.tb).objects.filter(pk=hw.tb.pk).update(hall=hw.hall_b)
    hw.ta.refresh_from_db()
    hw.tb.refresh_from_db()
    hw.b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=hw.bureau_b)
    hw.a_custmgr = UserFactory(username="a_custmgr", role=Role.CUSTOMER_MANAGER, unit=hw.bureau_a)
    hw.cust_a.id_number = NUMBER
    hw.cust_a.save(update_fields=["id_number"])
    return hw


def spost(client, key, path, payload, *, code="TA1", body=None, **kw):
    raw = json.dumps(payload).encode()
    url = "/api/v1" + path
    return client.post(
        url,
        body if body is not None else raw,
        content_type="application/json",
        headers=signed(key, "POST", url, raw, code=code, **kw),
    )


def written():
    return (
        TerminalState.objects.count(),
        TerminalEvent.objects.count(),
        TerminalDay.objects.count(),
        MaintenanceTask.objects.count(),
        AuditEvent.objects.filter(action__startswith="customer.view_pii").count(),
    )


# ---------------------------------------------------------------- signed routes


def test_heartbeat_signed(tw, client):
    r = spost(client, tw.key_a[0], "/terminal/heartbeat", {"cash_box_percent": 85, "printer_fault": True})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["online"], body["cash_box_percent"], body["printer_fault"], body["paper_low"]) == (
        True,
        85,
        True,
        False,
    )
    s = TerminalState.objects.get(terminal=tw.ta)
    assert s.online and s.last_heartbeat_at is not None
    assert set(MaintenanceTask.objects.values_list("fault", flat=True)) == {"printer", "cash_box"}


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/terminal/heartbeat", {"printer_fault": True}),
        ("/terminal/transactions", {"kind": "payment", "terminal_txn_id": "X1", "amount": "5"}),
        ("/terminal/id-card", {"name": "张三", "id_number": NUMBER, "address": "东关镇"}),
    ],
)
def test_bad_signature_401_nothing_written(tw, client, path, payload):
    before = written(), TerminalNonce.objects.count()
    # Signed by B's key in A's name; a tampered body; an unknown terminal; no headers at all
    assert spost(client, tw.key_b[0], path, payload).status_code == 401
    assert (
        spost(client, tw.key_a[0], path, payload, body=json.dumps({**payload, "x": 1}).encode()).status_code
        == 401
    )
    assert spost(client, tw.key_a[0], path, payload, code="NOPE").status_code == 401
    assert client.post("/api/v1" + path, payload, content_type="application/json").status_code == 401
    old = timezone.now() - timezone.timedelta(minutes=6)
    assert spost(client, tw.key_a[0], path, payload, ts=old).status_code == 401
    assert (written(), TerminalNonce.objects.count()) == before


def test_replayed_nonce_refused(tw, client):
    nonce = secrets.token_hex(12)
    payload = {"kind": "bill_query", "terminal_txn_id": "Q-1"}
    assert spost(client, tw.key_a[0], "/terminal/transactions", payload, nonce=nonce).status_code == 200
    before = written()
    assert (
        spost(
            client, tw.key_a[0], "/terminal/transactions", {**payload, "terminal_txn_id": "Q-2"}, nonce=nonce
        ).status_code
        == 401
    )
    assert written() == before


def test_transactions_idempotent_over_the_api(tw, client):
    p = {"kind": "payment", "terminal_txn_id": "TX-7", "amount": "30"}
    a = spost(client, tw.key_a[0], "/terminal/transactions", p)
    b = spost(client, tw.key_a[0], "/terminal/transactions", p)
    assert a.status_code == b.status_code == 200 and a.json() == b.json() and a.json()["amount"] == "30.00"
    assert sum(TerminalDay.objects.values_list("transactions", flat=True)) == 1
    c = spost(client, tw.key_a[0], "/terminal/transactions", {**p, "amount": "31"})
    assert c.status_code == 422 and c.json()["detail"][0]["field"] == "terminal_txn_id"
    d = spost(client, tw.key_a[0], "/terminal/transactions", {**p, "kind": "refund"})
    assert d.status_code == 422 and d.json()["detail"][0]["field"] == "kind"


def test_id_card_over_the_api(tw, client):
    r = spost(
        client,
        tw.key_a[0],
        "/terminal/id-card",
        {"name": "张三", "id_number": NUMBER, "address": "东关镇人民路18号"},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["id_number"] == NUMBER[:6] + "********" + NUMBER[-4:] and NUMBER not in r.content.decode()
    assert [a["account_number"] for a in body["accounts"]] == ["3100000001"]
    pii = AuditEvent.objects.get(action="customer.view_pii")
    assert pii.customer_id == tw.cust_a.pk and pii.changes["source"] == "terminal.id_read:TA1"
    ev = TerminalEvent.objects.get(kind="id_read")
    assert NUMBER not in json.dumps(ev.detail)
    # B's terminal finds nothing for A's customer
    r = spost(
        client,
        tw.key_b[0],
        "/terminal/id-card",
        {"name": "张三", "id_number": NUMBER, "address": ""},
        code="TB1",
    )
    assert r.status_code == 200 and r.json()["accounts"] == []
    # A bad number: 422 on id_number, nothing written
    before = written()
    r = spost(
        client,
        tw.key_a[0],
        "/terminal/id-card",
        {
            "name": "张三",
            "id_number": NUMBER[:-1] + "0" if NUMBER[-1] != "0" else NUMBER[:-1] + "1",
            "address": "",
        },
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "id_number"
    assert written() == before


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/terminal/heartbeat", {"cash_box_percent": 1000}),
        ("/terminal/heartbeat", {"cash_box_percent": "x"}),
        ("/terminal/heartbeat", {"printer_fault": [1]}),
        ("/terminal/heartbeat", {"paper_low": "maybe"}),
        ("/terminal/transactions", {"kind": "payment\x00", "terminal_txn_id": "A"}),
        ("/terminal/transactions", {"kind": "payment", "terminal_txn_id": "A" * 41}),
        ("/terminal/transactions", {"kind": "payment", "terminal_txn_id": "A", "amount": "NaN"}),
        ("/terminal/transactions", {"kind": "payment", "terminal_txn_id": "A", "amount": "9" * 20}),
        ("/terminal/id-card", {"name": "", "id_number": "", "address": ""}),
        ("/terminal/id-card", {"name": "张" * 40, "id_number": NUMBER}),
        ("/terminal/id-card", {"name": "张三", "id_number": "1" * 18}),
        ("/terminal/id-card", {"name": "张三", "id_number": "110105198002301234"}),
        ("/terminal/id-card", {}),
    ],
)
def test_bad_input_422_never_5xx(tw, client, path, payload):
    before = written()
    r = spost(client, tw.key_a[0], path, payload)
    assert r.status_code == 422, r.content
    assert written() == before


# ---------------------------------------------------------------- staff API


def test_monitor_matrix(tw, login):
    tm.terminal_heartbeat(terminal=tw.ta, now=at(0), cash_box_percent=90)
    url = "/api/v1/terminals/monitor"
    assert login().get(url).status_code == 401
    assert login(tw.portal_user).get(url).status_code == 403
    assert login(tw.a_clerk).get(url).status_code == 403  # hall.operate only
    assert login(tw.a_cashier).get(url).status_code == 403
    a = login(tw.a_manager).get(url)
    assert a.status_code == 200
    assert [t["code"] for t in a.json()["terminals"]] == ["TA1"]
    assert [t["fault"] for t in a.json()["open_tasks"]] == ["cash_box"]
    assert [t["code"] for t in login(tw.a_custmgr).get(url).json()["terminals"]] == ["TA1"]  # hall.report
    assert [t["code"] for t in login(tw.b_manager).get(url).json()["terminals"]] == ["TB1"]
    assert [t["code"] for t in login(tw.admin).get(url).json()["terminals"]] == ["TA1", "TB1"]
    assert [t["code"] for t in login(tw.admin).get(url + f"?hall={tw.hall_b.pk}").json()["terminals"]] == [
        "TB1"
    ]
    assert login(tw.admin).get(url + "?month=2026-13").status_code == 422
    assert login(tw.admin).get(url + "?month=2026-03").json()["month"] == "2026-03"


def test_events_matrix(tw, login):
    tm.terminal_heartbeat(terminal=tw.ta, now=at(0))
    url = f"/api/v1/terminals/{tw.ta.pk}/events"
    assert login().get(url).status_code == 401
    for user in (tw.portal_user, tw.a_clerk, tw.b_manager):
        assert login(user).get(url).status_code == 404
    r = login(tw.a_manager).get(url)
    assert r.status_code == 200 and [e["kind"] for e in r.json()["items"]] == ["online"]
    assert login(tw.a_custmgr).get(url).status_code == 200
    assert login(tw.admin).get("/api/v1/terminals/99999999999999999999999/events").status_code in (404, 422)


def test_close_matrix(tw, login):
    tm.terminal_heartbeat(terminal=tw.ta, now=at(0), printer_fault=True)
    task = MaintenanceTask.objects.get()
    url = f"/api/v1/maintenance-tasks/{task.pk}/close"
    assert login().post(url, {}, content_type="application/json").status_code == 401
    for user in (tw.portal_user, tw.a_clerk, tw.a_custmgr, tw.b_manager):
        assert login(user).post(url, {"note": "x"}, content_type="application/json").status_code == 404
    task.refresh_from_db()
    assert task.status == "open" and not AuditEvent.objects.filter(action="hall.maintenance_close").exists()
    r = login(tw.a_manager).post(url, {"note": "已修复"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert AuditEvent.objects.filter(action="hall.maintenance_close").count() == 1
    again = login(tw.a_manager).post(url, {}, content_type="application/json")
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "status"
    assert login(tw.admin).post(url, {"note": "x" * 501}, content_type="application/json").status_code == 422


# ---------------------------------------------------------------- pages


def test_monitor_page_matrix_and_queries(tw, login, django_assert_max_num_queries):
    tm.terminal_heartbeat(terminal=tw.ta, now=at(0), paper_low=True)
    assert login().get("/hall/terminals/").status_code == 302
    for user in (tw.portal_user, tw.a_clerk, tw.a_cashier):
        assert login(user).get("/hall/terminals/").status_code == 404
    c = login(tw.a_manager)
    c.get("/hall/terminals/")  # warm the session and caches
    for k in range(2, 8):
        key = terminals.generate_key_pair()
        t = terminals.terminal_add(actor=Actor(), code=f"TA{k}", unit=tw.bureau_a, public_key=key[1])
        tm.terminal_heartbeat(terminal=t, now=at(0), printer_fault=True)
    with django_assert_max_num_queries(20):
        r = c.get("/hall/terminals/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="terminal-TA1"' in html and "TB1" not in html and 'data-alert="paper"' in html
    assert login(tw.a_custmgr).get("/hall/terminals/").status_code == 200
    assert login(tw.a_manager).get("/hall/terminals/?month=bad").status_code == 400


def test_detail_page_and_writes(tw, login):
    tm.terminal_heartbeat(terminal=tw.ta, now=at(0), printer_fault=True)
    task = MaintenanceTask.objects.get()
    url = f"/hall/terminals/{tw.ta.pk}/"
    assert login(tw.b_manager).get(url).status_code == 404
    assert login(tw.a_clerk).get(url).status_code == 404
    page = login(tw.a_custmgr).get(url)
    assert page.status_code == 200 and "terminal-hall-form" not in page.content.decode()
    c = login(tw.a_manager)
    assert 'data-kind="printer_fault"' in c.get(url).content.decode()
    # hall.report only cannot close or place
    assert login(tw.a_custmgr).post(f"/hall/terminals/tasks/{task.pk}/close/").status_code == 404
    assert login(tw.b_manager).post(f"/hall/terminals/tasks/{task.pk}/close/").status_code == 404
    assert login(tw.a_manager).get(f"/hall/terminals/tasks/{task.pk}/close/").status_code == 405
    r = c.post(f"/hall/terminals/tasks/{task.pk}/close/", {"note": "好了", "next": "detail"})
    assert r.status_code == 302 and r["Location"] == url
    task.refresh_from_db()
    assert task.status == "done"
    assert c.post(f"/hall/terminals/tasks/{task.pk}/close/").status_code == 400  # already closed
    # The hall: one of the terminal's unit subtree only
    bad = c.post(f"/hall/terminals/{tw.ta.pk}/hall/", {"hall": tw.hall_b.pk})
    assert bad.status_code == 400
    tw.ta.refresh_from_db()
    assert tw.ta.hall_id == tw.hall_a.pk
    assert c.post(f"/hall/terminals/{tw.ta.pk}/hall/", {"hall": ""}).status_code == 302
    tw.ta.refresh_from_db()
    assert tw.ta.hall_id is None
    assert (
        login(tw.a_custmgr).post(f"/hall/terminals/{tw.ta.pk}/hall/", {"hall": tw.hall_a.pk}).status_code
        == 404
    )
