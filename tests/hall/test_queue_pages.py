"""The queue's pages: the hall list, greeter, counter console (htmx), the display and kiosk device pages, the portal
remote ticket, the set-up page — permission matrices (anonymous → login, others → 404) with nothing written when
refused, bounded queries. The clock is injected (django.utils.timezone.now patched)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from gridcare.core.models import AuditEvent
from gridcare.hall import devices, services
from gridcare.hall.choices import TicketSource
from gridcare.hall.models import CounterSetup, GreeterTriage, HallClosure, HallDevice, HallProfile, Ticket

from .conftest import at


@pytest.fixture
def clock(monkeypatch):
    state = {"now": at(0)}
    monkeypatch.setattr(timezone, "now", lambda: state["now"])
    return lambda minutes: state.update(now=at(minutes))


def _device(w, kind, counter=None):
    _d, key = devices.device_create(hall=w.hall_a, kind=kind, counter=counter, actor=w.actor(w.admin))
    return key


def test_staff_pages_matrix(hw, login, clock):
    pages = [
        (reverse("hall:greeter", args=[hw.hall_a.pk]), "hall.operate"),
        (reverse("hall:counter", args=[hw.c1.pk]), "hall.operate"),
        (reverse("hall:setup", args=[hw.hall_a.pk]), "hall.manage"),
    ]
    for url, perm in pages:
        assert login(None).get(url).status_code == 302
        for user in (hw.portal_user, hw.a_reader, hw.b_clerk):
            assert login(user).get(url).status_code == 404, (url, user)
        assert login(hw.a_manager).get(url).status_code == 200
        assert login(hw.a_clerk).get(url).status_code == (200 if perm == "hall.operate" else 404)
    assert login(hw.a_reader).get(reverse("hall:index")).status_code == 404
    # A POST refused writes nothing.
    login(hw.b_clerk).post(reverse("hall:greeter", args=[hw.hall_a.pk]), {"category": "payment"})
    login(hw.a_clerk).post(
        reverse("hall:setup", args=[hw.hall_a.pk]), {"section": "closure_add", "day": "2026-05-01"}
    )
    assert not Ticket.objects.exists() and not HallClosure.objects.exists()


def test_index_lists_scoped_halls(hw, login, clock, django_assert_max_num_queries):
    c = login(hw.a_manager)
    with django_assert_max_num_queries(15):
        r = c.get(reverse("hall:index"))
    body = r.content.decode()
    assert "城东营业厅" in body and "城西营业厅" not in body
    assert reverse("hall:setup", args=[hw.hall_a.pk]) in body
    assert reverse("hall:counter", args=[hw.c3.pk]) in body
    r = login(hw.a_clerk).get(reverse("hall:index"))
    assert reverse("hall:greeter", args=[hw.hall_a.pk]) in r.content.decode()
    assert reverse("hall:setup", args=[hw.hall_a.pk]) not in r.content.decode()


def test_greeter_issue_self_service_and_check_in(hw, login, clock):
    c = login(hw.a_clerk)
    url = reverse("hall:greeter", args=[hw.hall_a.pk])
    r = c.post(url, {"action": "ticket", "category": "payment", "priority_reason": "disabled", "phone": ""})
    assert r.status_code == 200
    t = Ticket.objects.get()
    assert (t.number, t.source, t.priority_reason) == ("A001", "greeter", "disabled")
    assert 'data-testid="ticket-number">A001<' in r.content.decode()
    r = c.post(url, {"action": "self_service", "category": "consult"})
    assert r.status_code == 200 and GreeterTriage.objects.filter(outcome="self_service").count() == 1
    r = c.post(url, {"action": "self_service", "category": "new_connection"})
    assert r.status_code == 400 and "不能自助办理" in r.content.decode()
    r = c.post(url, {"action": "ticket", "category": "payment", "phone": "12"})
    assert r.status_code == 400 and Ticket.objects.count() == 1
    remote = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.PORTAL, phone="13900000001", now=at(0)
    )
    r = c.post(url, {"action": "checkin", "ci-phone": "13900000001"})
    assert r.status_code == 200
    assert Ticket.objects.get(pk=remote.pk).checked_in_at == at(0)
    r = c.post(url, {"action": "checkin", "ci-number": "A999"})
    assert r.status_code == 400


def test_counter_console_htmx(hw, login, clock, django_assert_max_num_queries):
    c = login(hw.a_clerk)
    act = reverse("hall:counter_action", args=[hw.c1.pk])
    h = {"HTTP_HX_REQUEST": "true"}
    r = c.post(act, {"action": "call_next"}, **h)
    assert r.status_code == 400 and "窗口未开启" in r.content.decode()
    assert c.post(act, {"action": "open"}, **h).status_code == 200
    for m in range(5):
        services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(m))
    clock(6)
    with django_assert_max_num_queries(30):
        r = c.get(reverse("hall:counter", args=[hw.c1.pk]))
    assert all(f"waiting-A00{k}" in r.content.decode() for k in range(1, 6))
    r = c.post(act, {"action": "call_next"}, **h)
    assert 'data-testid="current-number">A001<' in r.content.decode()
    for _k in range(3):
        r = c.post(act, {"action": "recall"}, **h)
    assert "3 / 3" in r.content.decode()
    assert 'data-testid="act-no_show">' in r.content.decode()  # enabled after the max recalls
    r = c.post(act, {"action": "no_show"}, **h)
    assert r.status_code == 200 and Ticket.objects.get(number="A001").status == "no_show"
    # Non-htmx: redirect with the message.
    r = c.post(act, {"action": "start"})
    assert r.status_code == 302
    assert c.post(act, {"action": "call", "ticket_id": "x"}, **h).status_code == 400


def test_display_device_page(hw, login, clock, django_assert_max_num_queries):
    key = _device(hw, "display")
    kiosk_key = _device(hw, "kiosk")
    CounterSetup.objects.get(pk=hw.c2.pk)
    services.counter_open(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(0))
    services.ticket_issue(hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(0))
    services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(1))
    clock(2)
    anon = login(None)
    with django_assert_max_num_queries(10):
        r = anon.get(reverse("hall:display", args=[key]))
    body = r.content.decode()
    assert r.status_code == 200
    assert 'data-speech="请 A 0 0 1 号到 2 号窗口办理"' in body
    assert anon.get(reverse("hall:display_board", args=[key])).status_code == 200
    assert anon.get(reverse("hall:display", args=[kiosk_key])).status_code == 404
    assert anon.get(reverse("hall:display", args=["hd_wrong"])).status_code == 404
    HallDevice.objects.update(enabled=False)
    assert anon.get(reverse("hall:display", args=[key])).status_code == 404


def test_kiosk_device_page(hw, login, clock):
    key = _device(hw, "kiosk")
    anon = login(None)
    url = reverse("hall:kiosk", args=[key])
    r = anon.get(url)
    assert r.status_code == 200 and f"/hall/d/{key}/kiosk/checkin/" in r.content.decode()
    r = anon.post(url, {"action": "ticket", "category": "invoice", "phone": "13900000002"})
    assert r.status_code == 200 and Ticket.objects.get().source == "kiosk"
    remote = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.PORTAL, phone="13900000001", now=at(0)
    )
    r = anon.post(url, {"action": "checkin", "ci-number": remote.number, "ci-phone": "13900000009"})
    assert r.status_code == 400
    r = anon.post(url, {"action": "checkin", "ci-number": remote.number})
    assert r.status_code == 400  # the kiosk asks for both
    r = anon.post(url, {"action": "checkin", "ci-number": remote.number, "ci-phone": "13900000001"})
    assert r.status_code == 200 and Ticket.objects.get(pk=remote.pk).checked_in_at is not None
    assert anon.get(reverse("hall:kiosk", args=[_device(hw, "display")])).status_code == 404


def test_portal_ticket_page(hw, login, clock):
    url = reverse("portal_hall:ticket")
    assert login(None).get(url).status_code == 302
    assert login(hw.a_clerk).get(url).status_code == 404
    c = login(hw.portal_user)
    r = c.get(url + "?hall=HA")
    assert r.status_code == 200 and "签到" in r.content.decode()
    assert 'value="HA" selected' in r.content.decode()
    r = c.post(url, {"hall": "HA", "category": "payment", "phone": "13700000000"})
    assert r.status_code == 302
    t = Ticket.objects.get()
    assert (t.source, t.portal_user, t.checked_in_at) == ("portal", hw.portal_user, None)
    r = c.get(url)
    assert 'data-testid="ahead">0' in r.content.decode()
    assert c.get(reverse("portal_hall:ticket_status", args=[t.pk])).status_code == 200
    other = hw.portal_user.__class__.objects.create_user(
        username="13711111111", role="customer", phone="13711111111"
    )
    assert login(other).get(reverse("portal_hall:ticket_status", args=[t.pk])).status_code == 404
    assert login(other).post(reverse("portal_hall:ticket_cancel", args=[t.pk])).status_code == 404
    assert c.post(reverse("portal_hall:ticket_cancel", args=[t.pk])).status_code == 302
    assert Ticket.objects.get().status == "cancelled"


def test_setup_page_sections(hw, login, clock):
    c = login(hw.a_manager)
    url = reverse("hall:setup", args=[hw.hall_a.pk])
    prof = {
        "section": "profile",
        "opens_at": "08:00",
        "closes_at": "18:00",
        "open_weekdays": ["1", "2", "3", "4", "5"],
        "accepting": "on",
        "elderly_age": 60,
        "starvation_guard_minutes": 25,
        "max_recalls": 2,
        "call_ahead_places": 4,
        "remote_checkin_minutes": 20,
        "appointment_grace_minutes": 10,
        "slot_capacity": 6,
        "wait_target_minutes": 15,
        "min_ratings_to_rank": 30,
    }
    assert c.post(url, prof).status_code == 302
    p = HallProfile.objects.get(pk=hw.hall_a.pk)
    assert (p.opens_at.hour, p.open_weekdays, p.max_recalls, p.remote_checkin_minutes) == (8, "12345", 2, 20)
    r = c.post(url, {**prof, "max_recalls": 0, "closes_at": "07:00"})
    assert r.status_code == 400 and HallProfile.objects.get(pk=hw.hall_a.pk).max_recalls == 2
    pay = hw.cat["payment"].pk
    assert c.post(url, {"section": "counter", "counter_id": hw.c1.pk, "categories": [pay]}).status_code == 302
    assert list(CounterSetup.objects.get(pk=hw.c1.pk).categories.values_list("pk", flat=True)) == [pay]
    assert (
        c.post(url, {"section": "counter", "counter_id": hw.cb1.pk, "categories": [pay]}).status_code == 400
    )
    assert c.post(url, {"section": "closure_add", "day": "2026-05-01", "reason": "劳动节"}).status_code == 302
    cl = HallClosure.objects.get()
    assert c.post(url, {"section": "closure_remove", "closure_id": cl.pk}).status_code == 302
    r = c.post(url, {"section": "device_add", "kind": "display", "name": "大厅电视"})
    body = r.content.decode()
    assert r.status_code == 200 and 'data-testid="device-key">hd_' in body and "/hall/d/hd_" in body
    r = c.post(url, {"section": "device_add", "kind": "evaluator"})
    assert r.status_code == 400 and HallDevice.objects.count() == 1
    d = HallDevice.objects.get()
    assert c.post(url, {"section": "device_disable", "device_id": d.pk}).status_code == 302
    assert not HallDevice.objects.get().enabled
    assert c.post(url, {"section": "nonsense"}).status_code == 400
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "hall.profile_update",
        "hall.counter_categories",
        "hall.closure_add",
        "hall.closure_remove",
        "hall.device_create",
        "hall.device_disable",
    } <= actions
