"""The queue API: permission matrices (anonymous 401, customer / staff without hall.operate 403 on collection
routes and 404 on objects, another unit 404, hall.operate OK) with nothing written when refused; the counter
actions; the portal's remote ticket (one live per phone, live position, cancel); no input 5xx. The clock is
injected (django.utils.timezone.now patched to a Tuesday morning)."""

import pytest
from django.utils import timezone

from gridcare.hall import services
from gridcare.hall.choices import TicketSource
from gridcare.hall.models import CounterSetup, GreeterTriage, Ticket, TicketEvent

from .conftest import at


@pytest.fixture
def clock(monkeypatch):
    state = {"now": at(0)}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])

    def set_(minutes):
        state["now"] = at(minutes)

    return set_


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_issue_matrix(hw, login, clock):
    url = f"/api/v1/halls/{hw.hall_a.pk}/tickets"
    body = {"category": "payment", "phone": "13900000001", "priority_reason": "vip"}
    refused = [
        (None, 401),
        (hw.portal_user, 403),
        (hw.a_reader, 403),
        (hw.a_agent, 403),
        (hw.b_clerk, 404),
    ]
    for user, code in refused:
        r = _post(login(user), url, body)
        assert r.status_code == code, (user, r.content)
    assert not Ticket.objects.exists()
    for user in (hw.a_clerk, hw.a_cashier, hw.a_manager, hw.admin):
        r = _post(login(user), url, body)
        assert r.status_code == 201, (user, r.content)
    d = r.json()
    assert d["number"] == "A004" and d["priority_reason"] == "vip" and d["source"] == "greeter"
    assert d["phone"] != "13900000001"  # masked
    assert GreeterTriage.objects.filter(outcome="ticket").count() == 4
    # A kiosk ticket for a customer at the kiosk: no triage row.
    r = _post(login(hw.a_clerk), url, {"category": "consult", "source": "kiosk"})
    assert r.status_code == 201 and r.json()["source"] == "kiosk"
    assert GreeterTriage.objects.count() == 4


@pytest.mark.parametrize(
    "body,field",
    [
        ({"category": "nonsense"}, "category"),
        ({"category": "payment", "source": "portal"}, "source"),
        ({"category": "payment", "priority_reason": "appointment"}, "priority_reason"),
        ({"category": "payment", "phone": "123"}, "phone"),
        ({"category": "payment", "id_number": "110105196103100000"}, "id_number"),
        ({"category": "payment", "extra": 1}, "extra"),
        ({"category": "x" * 200}, "category"),
        ({"category": "pay\x00ment"}, "category"),
    ],
)
def test_issue_bad_input_422_nothing_written(hw, login, clock, body, field):
    r = _post(login(hw.a_clerk), f"/api/v1/halls/{hw.hall_a.pk}/tickets", body)
    assert r.status_code == 422, r.content
    assert field in {e["field"] for e in r.json()["detail"]}
    assert not Ticket.objects.exists() and not GreeterTriage.objects.exists()


def test_closed_hall_422(hw, login, clock):
    clock(-60)  # 08:00, before opening
    r = _post(login(hw.a_clerk), f"/api/v1/halls/{hw.hall_a.pk}/tickets", {"category": "payment"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "hall"


def test_queue_and_ticket_reads(hw, login, clock, django_assert_max_num_queries):
    CounterSetup.objects.get(pk=hw.c1.pk).categories.set([hw.cat["payment"]])
    services.counter_open(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(0))
    n1 = services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    p1 = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(1), priority_reason="disabled"
    )
    clock(2)
    c = login(hw.a_clerk)
    with django_assert_max_num_queries(20):
        r = c.get(f"/api/v1/halls/{hw.hall_a.pk}/queue")
    assert r.status_code == 200
    d = r.json()
    assert [t["id"] for t in d["waiting"]] == [p1.pk, n1.pk]
    pay = next(x for x in d["categories"] if x["category"] == "payment")
    assert (pay["waiting"], pay["open_counters"], pay["estimated_wait_minutes"]) == (2, 1, 10)
    for user, code in [(None, 401), (hw.portal_user, 404), (hw.a_reader, 404), (hw.b_clerk, 404)]:
        assert login(user).get(f"/api/v1/halls/{hw.hall_a.pk}/queue").status_code == code
        assert login(user).get(f"/api/v1/tickets/{n1.pk}").status_code == code
    r = c.get(f"/api/v1/tickets/{n1.pk}")
    assert r.status_code == 200
    assert (r.json()["ahead"], r.json()["events"][0]["kind"]) == (1, "issued")
    assert c.get("/api/v1/tickets/999999").status_code == 404
    assert c.get(f"/api/v1/halls/{2**40}/queue").status_code == 404


def test_counter_actions(hw, login, clock):
    url = f"/api/v1/counters/{hw.c1.pk}/actions"
    c = login(hw.a_clerk)
    for user, code in [(None, 401), (hw.portal_user, 404), (hw.a_reader, 404), (hw.b_clerk, 404)]:
        assert _post(login(user), url, {"action": "open"}).status_code == code
    assert CounterSetup.objects.get(pk=hw.c1.pk).state == "closed"
    assert _post(c, url, {"action": "open"}).json()["state"] == "open"
    r = _post(c, url, {"action": "call_next"})
    assert r.status_code == 200 and r.json()["ticket"] is None and r.json()["notice"]
    t1 = services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    t2 = services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    clock(1)
    r = _post(c, url, {"action": "call", "ticket_id": t2.pk})
    assert r.json()["current"]["id"] == t2.pk
    for _k in range(3):
        assert _post(c, url, {"action": "recall"}).status_code == 200
    r = _post(c, url, {"action": "recall"})
    assert r.status_code == 422
    assert _post(c, url, {"action": "no_show"}).json()["ticket"]["status"] == "no_show"
    r = _post(c, url, {"action": "call_next"})
    assert r.json()["ticket"]["id"] == t1.pk
    assert _post(c, url, {"action": "start"}).json()["current"]["status"] == "serving"
    r = _post(c, url, {"action": "transfer", "to_counter_id": hw.c2.pk})
    assert r.status_code == 200 and r.json()["current"] is None
    assert Ticket.objects.get(pk=t1.pk).target_counter_id == hw.c2.pk
    assert _post(c, url, {"action": "transfer"}).status_code == 422
    assert _post(c, url, {"action": "fly"}).status_code == 422
    assert _post(c, url, {"action": "call", "ticket_id": 2**62}).status_code == 422
    assert _post(c, url, {"action": "transfer", "to_counter_id": hw.cb1.pk}).status_code == 422
    c2 = _post(c, f"/api/v1/counters/{hw.c2.pk}/actions", {"action": "open"})
    assert c2.status_code == 200
    r = _post(c, f"/api/v1/counters/{hw.c2.pk}/actions", {"action": "call_next"})
    assert r.json()["ticket"]["id"] == t1.pk
    assert (
        _post(c, f"/api/v1/counters/{hw.c2.pk}/actions", {"action": "finish"}).json()["ticket"]["status"]
        == "done"
    )
    assert TicketEvent.objects.filter(ticket=t1).count() >= 5


def test_portal_remote_ticket(hw, login, clock):
    url = "/api/v1/my/hall-tickets"
    body = {"hall": "HA", "category": "payment"}
    assert _post(login(None), url, body).status_code == 401
    assert _post(login(hw.a_clerk), url, body).status_code == 403
    assert login(hw.a_clerk).get(url).status_code == 403
    assert not Ticket.objects.exists()
    c = login(hw.portal_user)
    r = _post(c, url, body)
    assert r.status_code == 201, r.content
    d = r.json()
    assert (d["source"], d["phone"], d["checked_in_at"], d["ahead"]) == ("portal", "13700000000", None, 0)
    # One live remote ticket per phone.
    r = _post(c, url, {"hall": "HB", "category": "payment"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "phone"
    assert _post(c, url, {"hall": "ZZ", "category": "payment"}).status_code == 422
    services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    items = c.get(url).json()["items"]
    assert [i["number"] for i in items] == ["A001"] and items[0]["ahead"] == 0
    # Another customer cannot cancel it; the holder can, once.
    other = hw.portal_user.__class__.objects.create_user(
        username="13711111111", role="customer", phone="13711111111"
    )
    assert _post(login(other), f"{url}/{d['id']}/cancel", {}).status_code == 404
    r = _post(c, f"{url}/{d['id']}/cancel", {})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert _post(c, f"{url}/{d['id']}/cancel", {}).status_code == 422
    assert c.get(url).json()["items"] == []


JUNK = [
    {},
    {"action": None},
    {"action": 5, "ticket_id": "abc"},
    {"action": "call", "ticket_id": -1},
    {"action": "call", "ticket_id": 2**70},
    {"action": "transfer", "to_counter_id": 0, "to_category": ["x"]},
    {"action": "transfer", "to_category": "\x00"},
    {"category": {"a": 1}},
    {"category": "payment", "phone": 13900000000},
    {"category": "payment", "id_number": "x" * 19},
    {"hall": None, "category": "payment"},
    {"hall": "HA", "category": "payment", "phone": "1" * 21},
    [],
    "not json",
]


def test_no_input_5xx_for_any_role(hw, login, clock):
    urls = [
        f"/api/v1/halls/{hw.hall_a.pk}/tickets",
        f"/api/v1/counters/{hw.c1.pk}/actions",
        "/api/v1/my/hall-tickets",
        "/api/v1/my/hall-tickets/1/cancel",
        f"/api/v1/halls/{hw.hall_b.pk}/tickets",
    ]
    users = [None, hw.portal_user, hw.a_reader, hw.a_clerk, hw.b_clerk, hw.admin]
    for user in users:
        c = login(user)
        for url in urls:
            for body in JUNK:
                r = c.post(url, body, content_type="application/json")
                assert r.status_code < 500, (user, url, body, r.content)
        for url in (
            "/api/v1/tickets/-5",
            f"/api/v1/tickets/{2**70}",
            "/api/v1/halls/abc/queue",
            f"/api/v1/counters/{2**70}/actions",
        ):
            assert c.get(url).status_code < 500
    assert not Ticket.objects.exists()


def test_an_action_on_a_counter_without_set_up_writes_nothing(hw, login):
    """Found by the fuzzer: a refused action must not have created the counter's set-up row on the way."""
    from gridcare.hall.models import CounterSetup
    from gridcare.org.models import Counter

    bare = Counter.objects.create(hall=hw.hall_a, number=9, name="9号窗口")
    c = login(hw.a_clerk)
    r = c.post(f"/api/v1/counters/{bare.pk}/actions", {"action": "nonsense"}, content_type="application/json")
    assert r.status_code == 422
    r = c.post(f"/api/v1/counters/{bare.pk}/actions", {"action": "open"}, content_type="application/json")
    assert r.status_code == 422
    assert not CounterSetup.objects.filter(pk=bare.pk).exists()
