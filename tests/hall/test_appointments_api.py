"""The appointment API and pages: permission matrices (anonymous, customer, staff without hall.operate, staff of
another unit, staff with it), nothing written when refused, no 5xx on odd input. The clock is injected through
`appointments.now`."""

from datetime import date, datetime, time

import pytest

from gridcare.core.models import AuditEvent
from gridcare.hall import appointments as ap
from gridcare.hall import devices
from gridcare.hall.models import Appointment, HallCategory, Ticket

from ..factories import UserFactory
from .conftest import at

CHINA = ap.CHINA


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(ap, "now", lambda: at(0))


def slot(h, m, day=date(2026, 3, 10)):
    return datetime.combine(day, time(h, m), tzinfo=CHINA)


def other_customer():
    from gridcare.core.permissions import Role

    return UserFactory(username="13711111111", role=Role.CUSTOMER, unit=None, phone="13711111111")


def _book(client, **body):
    body.setdefault("category", "payment")
    body.setdefault("slot_start", "2026-03-10T10:00:00+08:00")
    return client.post("/api/v1/my/hall-appointments", body, content_type="application/json")


def state():
    return (Appointment.objects.count(), Ticket.objects.count(), AuditEvent.objects.count())


def test_my_appointments_matrix(hw, login):
    before = state()
    assert _book(login(), hall_id=hw.hall_a.pk).status_code == 401
    for staff in (hw.a_clerk, hw.admin):
        assert _book(login(staff), hall_id=hw.hall_a.pk).status_code == 403
        assert login(staff).get("/api/v1/my/hall-appointments").status_code == 403
    assert login().get("/api/v1/my/hall-appointments").status_code == 401
    assert state() == before
    c = login(hw.portal_user)
    r = _book(c, hall_code="HA")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["slot_start"].startswith("2026-03-10T02:00:00") or body["slot_start"].startswith(
        "2026-03-10T10:00:00+08:00"
    )
    assert body["status"] == "booked" and body["phone_masked"] == "137****0000" and body["may_cancel"]
    listed = c.get("/api/v1/my/hall-appointments").json()
    assert listed["count"] == 1 and listed["items"][0]["code"] == body["code"]
    # another customer sees none of it and may not cancel it
    o = login(other_customer())
    assert o.get("/api/v1/my/hall-appointments").json()["count"] == 0
    before = state()
    assert o.post(f"/api/v1/my/hall-appointments/{body['id']}/cancel").status_code == 404
    assert login(hw.a_clerk).post(f"/api/v1/my/hall-appointments/{body['id']}/cancel").status_code == 403
    assert state() == before
    r = c.post(f"/api/v1/my/hall-appointments/{body['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert c.post(f"/api/v1/my/hall-appointments/{body['id']}/cancel").status_code == 422
    assert c.post(f"/api/v1/my/hall-appointments/{2**70}/cancel").status_code in (404, 422)


def test_book_refusals_are_422_naming_the_field(hw, login):
    c = login(hw.portal_user)
    HallCategory.objects.filter(hall=hw.hall_a, category=hw.cat["payment"]).update(slot_capacity=0)
    before = state()
    cases = [
        ({"hall_id": hw.hall_a.pk}, "slot_start"),  # capacity 0: full
        ({"hall_id": hw.hall_a.pk, "category": "nonsense"}, "category"),
        (
            {"hall_id": hw.hall_a.pk, "category": "consult", "slot_start": "2026-03-10T08:30:00+08:00"},
            "slot_start",
        ),
        ({"hall_id": hw.hall_a.pk, "category": "consult", "slot_start": "2026-03-10T09:10:00"}, "slot_start"),
        ({"hall_id": 999999}, "hall_id"),
        ({"hall_id": 2**62}, "hall_id"),
        ({"hall_code": "NOPE"}, "hall_code"),
        ({}, "hall_id"),
        ({"hall_id": hw.hall_a.pk, "slot_start": "not a date"}, "slot_start"),
        ({"hall_id": hw.hall_a.pk, "slot_start": "0001-01-01T00:00:00"}, "slot_start"),
        ({"hall_id": hw.hall_a.pk, "category": "a\x00b"}, "category"),
    ]
    for body, field in cases:
        r = _book(c, **body)
        assert r.status_code == 422, (body, r.content)
        assert field in [e["field"] for e in r.json()["detail"]], (body, r.json())
    assert state() == before
    # Naive times are China time.
    r = _book(c, hall_id=hw.hall_a.pk, category="consult", slot_start="2026-03-10T10:30:00")
    assert r.status_code == 201, r.content
    assert Appointment.objects.get().slot_start == slot(10, 30)


def test_slots_for_any_logged_in_user(hw, login):
    url = f"/api/v1/halls/{hw.hall_a.pk}/slots?category=payment&day=2026-03-10"
    assert login().get(url).status_code == 401
    for user in (hw.portal_user, hw.a_reader, hw.b_clerk):
        r = login(user).get(url)
        assert r.status_code == 200, r.content
    d = r.json()
    assert len(d["slots"]) == 18 and d["slots"][0]["bookable"] is False  # 08:30 has passed at 09:00
    assert d["slots"][3] == {
        "start": d["slots"][3]["start"],
        "end": d["slots"][3]["end"],
        "capacity": 4,
        "booked": 0,
        "remaining": 4,
        "bookable": True,
    }
    c = login(hw.portal_user)
    assert c.get(f"/api/v1/halls/{hw.hall_a.pk}/slots?category=nope").status_code == 422
    assert c.get(f"/api/v1/halls/{hw.hall_a.pk}/slots").status_code == 422
    assert c.get("/api/v1/halls/999999/slots?category=payment").status_code == 404
    assert c.get(f"/api/v1/halls/{2**70}/slots?category=payment").status_code in (404, 422)
    assert c.get(f"/api/v1/halls/{hw.hall_a.pk}/slots?category=payment&day=9999-01-01").status_code == 422
    # the default day is today (by the injected clock)
    assert c.get(f"/api/v1/halls/{hw.hall_a.pk}/slots?category=payment").json()["day"] == "2026-03-10"


def test_staff_day_and_check_in_matrix(hw, login):
    a = ap.appointment_book(
        actor=ap.Actor(),
        hall=hw.hall_a,
        category="payment",
        slot_start=slot(9, 30),
        phone="13800000001",
        now=at(0),
    )
    url = f"/api/v1/halls/{hw.hall_a.pk}/appointments?day=2026-03-10"
    post = f"/api/v1/halls/{hw.hall_a.pk}/appointments/check-in"
    before = state()
    assert login().get(url).status_code == 401
    assert login().post(post, {"code": a.code}, content_type="application/json").status_code == 401
    for user, status in ((hw.portal_user, 403), (hw.a_reader, 403), (hw.a_agent, 403), (hw.b_clerk, 404)):
        assert login(user).get(url).status_code == status, user
        r = login(user).post(post, {"code": a.code}, content_type="application/json")
        assert r.status_code == status, (user, r.content)
    assert state() == before
    r = login(hw.a_clerk).get(url)
    assert r.status_code == 200
    pay = next(c for c in r.json()["categories"] if c["category"] == "payment")
    s930 = pay["slots"][2]
    assert (s930["booked"], s930["remaining"], s930["capacity"]) == (1, 3, 4)
    assert s930["appointments"][0]["phone_masked"] == "138****0001"
    assert login(hw.a_clerk).post(post, {"code": "nope"}, content_type="application/json").status_code == 422
    r = login(hw.a_clerk).post(post, {"code": a.code}, content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json()["priority"] is True and r.json()["ticket_number"] == "A001"
    assert login(hw.a_manager).get(f"/api/v1/halls/{2**70}/appointments").status_code in (404, 422)


# ---------------------------------------------------------------- pages


def test_portal_page_books_and_cancels(hw, login):
    from django.urls import reverse

    url = reverse("portal_hall:appointments")
    assert login().get(url).status_code == 302
    assert login(hw.a_clerk).get(url).status_code == 404
    c = login(hw.portal_user)
    r = c.get(url, {"hall": hw.hall_a.pk, "category": "payment", "day": "2026-03-10"})
    assert r.status_code == 200 and "10:00–10:30" in r.content.decode()
    pick = {"hall": hw.hall_a.pk, "category": "payment", "day": "2026-03-10"}
    r = c.post(url, {**pick, "slot": "2026-03-10T09:00:00+08:00"})  # started
    assert r.status_code == 400 and Appointment.objects.count() == 0
    r = c.post(url, {**pick, "slot": "2026-03-10T10:00:00+08:00"})
    assert r.status_code == 302
    a = Appointment.objects.get()
    assert a.phone == "13700000000" and a.portal_user == hw.portal_user
    assert a.code in c.get(url).content.decode()
    # another customer cannot cancel it
    assert (
        login(other_customer()).post(reverse("portal_hall:appointment_cancel", args=[a.pk])).status_code
        == 404
    )
    assert c.post(reverse("portal_hall:appointment_cancel", args=[a.pk])).status_code == 302
    a.refresh_from_db()
    assert a.status == "cancelled"


def test_staff_page_scoped_and_bounded(hw, login, django_assert_max_num_queries):
    from django.urls import reverse

    for k in range(6):
        ap.appointment_book(
            actor=ap.Actor(),
            hall=hw.hall_a,
            category=["payment", "consult"][k % 2],
            slot_start=slot(10 + k, 0),
            phone=f"1380000000{k}",
            now=at(0),
        )
    url = reverse("hall:appointments", args=[hw.hall_a.pk])
    assert login().get(url).status_code == 302
    for user in (hw.portal_user, hw.a_reader, hw.b_clerk):
        assert login(user).get(url).status_code == 404
    c = login(hw.a_clerk)
    with django_assert_max_num_queries(14):
        r = c.get(url, {"day": "2026-03-10"})
    assert r.status_code == 200
    assert "当日已预约 6 / 容量" in r.content.decode()
    a = Appointment.objects.order_by("slot_start").first()
    assert "138****0000" in r.content.decode() and "13800000000" not in r.content.decode()
    # cancel on the customer's behalf, audited; another unit's clerk gets 404 and nothing changes
    cancel = reverse("hall:appointment_cancel", args=[hw.hall_a.pk, a.pk])
    assert login(hw.b_clerk).post(cancel).status_code == 404
    assert c.post(cancel).status_code == 302
    a.refresh_from_db()
    assert a.status == "cancelled"
    assert AuditEvent.objects.get(action="hall.appointment_cancel").changes["by"] == "staff"


def test_kiosk_page_key_and_check_in(hw, login, monkeypatch):
    from django.urls import reverse

    _d, key = devices.device_create(hall=hw.hall_a, kind="kiosk", actor=hw.actor(hw.admin))
    _d2, display_key = devices.device_create(hall=hw.hall_a, kind="display", actor=hw.actor(hw.admin))
    a = ap.appointment_book(
        actor=ap.Actor(),
        hall=hw.hall_a,
        category="payment",
        slot_start=slot(9, 30),
        phone="13800000001",
        now=at(0),
    )
    c = login()
    assert c.get(reverse("hall:kiosk_appointment_checkin", args=["wrong"])).status_code == 404
    assert c.get(reverse("hall:kiosk_appointment_checkin", args=[display_key])).status_code == 404
    url = reverse("hall:kiosk_appointment_checkin", args=[key])
    assert c.get(url).status_code == 200
    r = c.post(url, {"code": "12"})
    assert r.status_code == 400 and Ticket.objects.count() == 0
    monkeypatch.setattr(ap, "now", lambda: slot(9, 41))  # 11 minutes late
    r = c.post(url, {"code": a.code})
    assert r.status_code == 200
    assert "A001" in r.content.decode() and "按普通号排队" in r.content.decode()
    assert Ticket.objects.get().priority_reason == ""


def test_kiosk_acts_as_the_device_whoever_is_logged_in(hw, login, monkeypatch):
    from django.urls import reverse

    _d, key = devices.device_create(hall=hw.hall_a, kind="kiosk", actor=hw.actor(hw.admin))
    a = ap.appointment_book(
        actor=ap.Actor(),
        hall=hw.hall_a,
        category="payment",
        slot_start=slot(9, 30),
        phone="13800000001",
        now=at(0),
    )
    monkeypatch.setattr(ap, "now", lambda: slot(9, 40))  # +10:00: on time
    r = login(hw.b_clerk).post(reverse("hall:kiosk_appointment_checkin", args=[key]), {"code": a.code})
    assert r.status_code == 200 and "预约准时签到" in r.content.decode()
    assert Ticket.objects.get().priority_reason == "appointment"
