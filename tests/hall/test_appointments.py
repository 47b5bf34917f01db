"""Appointments (issue 16 §5) and the priority of an appointment checked in on time (§2), with an injected clock.

The hall opens 08:30–17:30 every day (the defaults); `at(m)` is Tuesday 2026-03-10 09:00 China time + m minutes."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.hall import appointments as ap
from gridcare.hall.choices import AppointmentStatus, PriorityReason, TicketSource
from gridcare.hall.models import Appointment, HallCategory, HallClosure, HallProfile, Ticket
from gridcare.jobs.registry import KINDS, SCHEDULES
from gridcare.notify.models import Notification

from .conftest import at

CHINA = ZoneInfo("Asia/Shanghai")
PHONE = "13800000001"


def slot(h: int, m: int, day: date = date(2026, 3, 10)) -> datetime:
    return datetime.combine(day, time(h, m), tzinfo=CHINA)


def book(w, start, *, phone=PHONE, category="payment", now=None, hall=None):
    return ap.appointment_book(
        actor=Actor(user=w.portal_user, channel=Channel.PORTAL),
        hall=hall or w.hall_a,
        category=category,
        slot_start=start,
        phone=phone,
        portal_user=w.portal_user,
        now=now or at(0),
    )


def counts():
    return (Appointment.objects.count(), Notification.objects.count(), AuditEvent.objects.count())


def kiosk():
    return Actor(channel=Channel.SYSTEM)


# ---------------------------------------------------------------- the pure rules


def test_day_slots_within_opening_hours_on_open_days():
    kw = {"opens_at": time(8, 30), "closes_at": time(17, 30), "open_weekdays": "1234567"}
    slots = ap.day_slots(day=date(2026, 3, 10), **kw)
    # 08:30 … 17:00: nine hours of 30-minute slots.
    assert len(slots) == 18
    assert (slots[0], slots[-1]) == (slot(8, 30), slot(17, 0))
    assert ap.day_slots(day=date(2026, 3, 10), **kw, closed_days={date(2026, 3, 10)}) == []
    assert ap.day_slots(day=date(2026, 3, 10), **{**kw, "open_weekdays": "13457"}) == []  # Tuesday = 2
    assert ap.day_slots(day=date(2026, 3, 10), **kw, accepting=False) == []
    # A slot must end by closing time: 08:45–10:00 holds 08:45 and 09:15 only (09:45 would end at 10:15).
    odd = ap.day_slots(day=date(2026, 3, 10), opens_at=time(8, 45), closes_at=time(10, 0), open_weekdays="2")
    assert odd == [slot(8, 45), slot(9, 15)]


def test_slot_table_capacity_and_bookable():
    starts = [slot(9, 0), slot(9, 30), slot(10, 0)]
    rows = ap.slot_table(starts=starts, capacity=2, booked={slot(9, 30): 2, slot(10, 0): 1}, now=at(0))
    # 09:00 has started at 09:00 (not bookable); 09:30 is full; 10:00 has one place.
    assert [(r.booked, r.remaining, r.bookable) for r in rows] == [(0, 2, False), (2, 0, False), (1, 1, True)]
    # 14 days ahead is bookable, 15 days is not.
    far = [slot(9, 0, date(2026, 3, 24)), slot(9, 0, date(2026, 3, 25))]
    assert [r.bookable for r in ap.slot_table(starts=far, capacity=1, booked={}, now=at(0))] == [True, False]


def d(y, mo, dd, h=10, mi=0, s=0):
    return datetime(y, mo, dd, h, mi, s, tzinfo=CHINA)


def test_ban_rule_edges_worked_by_hand():
    t1, t2 = d(2026, 1, 1), d(2026, 2, 1)
    # Two no-shows never ban.
    assert ap.ban_until([t1, t2], now=d(2026, 2, 2)) is None
    # The 3rd exactly 90 days after the 1st (Jan 1 + 90 days = Apr 1) counts: banned until May 1 10:00.
    t3 = d(2026, 4, 1)
    assert t3 - t1 == timedelta(days=90)
    assert ap.ban_until([t3, t1, t2], now=d(2026, 4, 1)) == d(2026, 5, 1)
    assert ap.ban_until([t1, t2, t3], now=d(2026, 5, 1, 9, 59, 59)) == d(2026, 5, 1)
    # The ban ends at t3 + 30 days exactly: at that instant the phone may book again.
    assert ap.ban_until([t1, t2, t3], now=d(2026, 5, 1)) is None
    # One second more than 90 days: no ban.
    assert ap.ban_until([t1, t2, t3 + timedelta(seconds=1)], now=d(2026, 4, 2)) is None
    # A 4th no-show makes the 3rd within 90 days with the 2nd and 3rd (Feb 1 .. Apr 15 = 73 days): banned until
    # May 15.
    t4 = d(2026, 4, 15)
    late3 = t3 + timedelta(seconds=1)
    assert ap.ban_until([t1, t2, late3, t4], now=d(2026, 4, 15)) == d(2026, 5, 15)
    # The latest trigger decides.
    assert ap.ban_until([t1, t2, t3, t4], now=d(2026, 5, 2)) == d(2026, 5, 15)


def test_on_time_rule():
    s = slot(9, 30)
    assert ap.is_on_time(slot_start=s, checked_in_at=s + timedelta(minutes=10), grace_minutes=10)
    assert not ap.is_on_time(
        slot_start=s, checked_in_at=s + timedelta(minutes=10, seconds=1), grace_minutes=10
    )
    assert ap.checkin_window(s) == (slot(9, 0), slot(10, 0))


# ---------------------------------------------------------------- booking


def test_book_writes_code_sms_and_audit(hw):
    a = book(hw, slot(10, 0))
    assert a.status == AppointmentStatus.BOOKED and len(a.code) == 8 and a.code.isdigit()
    n = Notification.objects.get(kind="hall_appt_booked")
    assert n.recipient == PHONE
    assert a.code in n.body and "城东营业厅" in n.body and "2026-03-10 10:00" in n.body and "10分钟" in n.body
    e = AuditEvent.objects.get(action="hall.appointment_book")
    assert e.object_id == str(a.pk) and e.unit_id == hw.hall_a.unit_id


def test_full_slot_refused_and_nothing_written(hw):
    HallCategory.objects.filter(hall=hw.hall_a, category=hw.cat["payment"]).update(slot_capacity=2)
    book(hw, slot(10, 0), phone="13800000001")
    book(hw, slot(10, 0), phone="13800000002")
    before = counts()
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0), phone="13800000003")
    assert "已约满" in e.value.message_dict["slot_start"][0]
    assert counts() == before
    # Another category falls back to the hall's capacity (4).
    for k in range(4):
        book(hw, slot(10, 0), phone=f"1390000000{k}", category="consult")
    with pytest.raises(ValidationError):
        book(hw, slot(10, 0), phone="13900000009", category="consult")
    assert ap.slots_for(hw.hall_a, "consult", date(2026, 3, 10), now=at(0))[3].remaining == 0


def test_past_foreign_and_far_slots_refused(hw):
    before = counts()
    for start in [
        slot(9, 0),  # has started at 09:00
        slot(8, 30),  # past
        slot(9, 10),  # not a slot start
        slot(17, 30),  # the hall closes at 17:30
        slot(8, 0),  # before opening
        slot(9, 0, date(2026, 3, 25)),  # 15 days ahead
    ]:
        with pytest.raises(ValidationError) as e:
            book(hw, start)
        assert "slot_start" in e.value.message_dict, start
    HallClosure.objects.create(hall=hw.hall_a, day=date(2026, 3, 11), reason="装修")
    with pytest.raises(ValidationError):
        book(hw, slot(10, 0, date(2026, 3, 11)))
    assert counts() == before
    book(hw, slot(9, 0, date(2026, 3, 24)))  # 14 days ahead is fine


def test_unknown_or_unbookable_category_and_bad_phone(hw):
    before = counts()
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0), category="nonsense")
    assert "category" in e.value.message_dict
    HallCategory.objects.filter(hall=hw.hall_a, category=hw.cat["invoice"]).update(bookable=False)
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0), category="invoice")
    assert "category" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0), phone="12345")
    assert "phone" in e.value.message_dict
    assert counts() == before


def test_one_booking_per_phone_per_slot_and_three_live(hw):
    book(hw, slot(10, 0))
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0), category="consult", hall=hw.hall_b)  # same slot elsewhere
    assert "slot_start" in e.value.message_dict
    book(hw, slot(10, 30))
    book(hw, slot(11, 0))
    with pytest.raises(ValidationError) as e:
        book(hw, slot(11, 30))
    assert "phone" in e.value.message_dict
    assert Appointment.objects.count() == 3


def _no_show(w, when: datetime, phone=PHONE):
    Appointment.objects.create(
        hall=w.hall_a,
        category=w.cat["payment"],
        slot_start=when - ap.SLOT,
        phone=phone,
        code=f"9{Appointment.objects.count():07d}",
        status=AppointmentStatus.NO_SHOW,
        created_at=when - timedelta(days=1),
        no_show_at=when,
    )


def test_banned_phone_refused_saying_until_when(hw):
    # No-shows on Jan 20, Feb 10 and Mar 1 (10:00): within 90 days; banned until Mar 31 10:00.
    for when in [d(2026, 1, 20), d(2026, 2, 10), d(2026, 3, 1)]:
        _no_show(hw, when)
    before = counts()
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0))
    assert "2026-03-31 10:00" in e.value.message_dict["phone"][0]
    assert counts() == before
    # Another phone books; the banned one books again from Mar 31 10:00.
    book(hw, slot(10, 0), phone="13800000002")
    book(hw, slot(11, 0, date(2026, 3, 31)), now=d(2026, 3, 31))


# ---------------------------------------------------------------- check-in and priority


@pytest.mark.parametrize(
    ("after", "priority"),
    [
        (timedelta(minutes=-30), True),
        (timedelta(minutes=10), True),
        (timedelta(minutes=10, seconds=1), False),
    ],
)
def test_check_in_on_time_is_priority_late_is_not(hw, after, priority):
    a = book(hw, slot(9, 30))
    when = slot(9, 30) + after
    got = ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, code=a.code, now=when)
    t = got.ticket
    assert got.status == AppointmentStatus.CHECKED_IN and got.checked_in_at == when
    assert t.source == TicketSource.APPOINTMENT and t.phone == PHONE
    assert t.priority_reason == (PriorityReason.APPOINTMENT if priority else "")
    assert t.queue_at == when and t.number == "A001"
    assert AuditEvent.objects.filter(action="hall.appointment_check_in", object_id=str(a.pk)).count() == 1


def test_check_in_grace_follows_the_hall(hw):
    HallProfile.objects.filter(hall=hw.hall_a).update(appointment_grace_minutes=5)
    hw.hall_a.refresh_from_db()
    a = book(hw, slot(9, 30))
    t = ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, code=a.code, now=slot(9, 36)).ticket
    assert t.priority_reason == ""


def test_check_in_refusals(hw):
    a = book(hw, slot(10, 0))
    before = (Ticket.objects.count(), Appointment.objects.filter(status="booked").count())
    refusals = [
        {"code": a.code, "now": slot(10, 0) - timedelta(minutes=30, seconds=1)},  # too early
        {"code": a.code, "now": slot(10, 30)},  # the slot has ended
        {"code": "00000000", "now": slot(10, 0)},
        {"code": "", "now": slot(10, 0)},
        {"code": a.code, "phone": "13800000009", "now": slot(10, 0)},  # not the booking's phone
    ]
    for kw in refusals:
        with pytest.raises(ValidationError) as e:
            ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, **kw)
        assert "code" in e.value.message_dict, kw
    with pytest.raises(ValidationError):  # another hall's kiosk
        ap.appointment_check_in(actor=kiosk(), hall=hw.hall_b, code=a.code, now=slot(10, 0))
    assert (Ticket.objects.count(), Appointment.objects.filter(status="booked").count()) == before
    ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, code=a.code, phone=PHONE, now=slot(10, 0))
    with pytest.raises(ValidationError):  # twice
        ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, code=a.code, now=slot(10, 1))
    assert Ticket.objects.count() == before[0] + 1


def test_staff_check_in_needs_hall_operate_on_the_hall(hw):
    from gridcare.core.scoping import PermissionDenied

    a = book(hw, slot(10, 0))
    for user in (hw.b_clerk, hw.a_reader):
        with pytest.raises(PermissionDenied):
            ap.appointment_check_in(actor=hw.actor(user), hall=hw.hall_a, code=a.code, now=slot(10, 0))
    got = ap.appointment_check_in(actor=hw.actor(hw.a_clerk), hall=hw.hall_a, code=a.code, now=slot(10, 0))
    assert got.ticket.events.get().actor == hw.a_clerk


# ---------------------------------------------------------------- cancel and no-show


def test_cancel_frees_capacity_and_sends_sms(hw):
    HallCategory.objects.filter(hall=hw.hall_a, category=hw.cat["payment"]).update(slot_capacity=1)
    a = book(hw, slot(10, 0))
    with pytest.raises(ValidationError):
        book(hw, slot(10, 0), phone="13800000002")
    ap.appointment_cancel(actor=Actor(user=hw.portal_user, channel=Channel.PORTAL), appointment=a, now=at(5))
    a.refresh_from_db()
    assert a.status == AppointmentStatus.CANCELLED and a.cancelled_at == at(5)
    assert Notification.objects.filter(kind="hall_appt_cancelled", recipient=PHONE).count() == 1
    book(hw, slot(10, 0), phone="13800000002")
    with pytest.raises(ValidationError):  # twice
        ap.appointment_cancel(actor=Actor(), appointment=a, now=at(6))


def test_customer_cancels_until_start_staff_until_end(hw):
    a = book(hw, slot(9, 30))
    with pytest.raises(ValidationError):
        ap.appointment_cancel(actor=Actor(), appointment=a, now=slot(9, 30))
    from gridcare.core.scoping import PermissionDenied

    with pytest.raises(PermissionDenied):
        ap.appointment_cancel(actor=hw.actor(hw.b_clerk), appointment=a, by_staff=True, now=slot(9, 40))
    ap.appointment_cancel(
        actor=hw.actor(hw.a_clerk), appointment=a, by_staff=True, now=slot(9, 59, date(2026, 3, 10))
    )
    e = AuditEvent.objects.get(action="hall.appointment_cancel")
    assert e.changes["by"] == "staff" and e.actor == hw.a_clerk


def test_no_show_job_marks_ended_slots_once(hw):
    booked = book(hw, slot(9, 30))
    checked = book(hw, slot(9, 30), phone="13800000002")
    ap.appointment_check_in(actor=kiosk(), hall=hw.hall_a, code=checked.code, now=slot(9, 35))
    cancelled = book(hw, slot(9, 30), phone="13800000003")
    ap.appointment_cancel(actor=Actor(), appointment=cancelled, now=slot(9, 10))
    later = book(hw, slot(10, 0), phone="13800000004")
    assert ap.no_show_mark(now=slot(9, 59) + timedelta(seconds=59)) == 0
    assert ap.no_show_mark(now=slot(10, 3)) == 1
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.NO_SHOW and booked.no_show_at == slot(10, 0)
    assert ap.no_show_mark(now=slot(10, 8)) == 0  # idempotent
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses[checked.pk] == "checked_in" and statuses[cancelled.pk] == "cancelled"
    assert statuses[later.pk] == "booked"
    assert AuditEvent.objects.get(action="hall.appointment_no_show").changes == {
        "count": 1,
        "ids": [booked.pk],
    }
    assert "hall.appointments_no_show" in KINDS
    s = SCHEDULES["hall.appointments_no_show"]
    assert (s.every, s.period) == (5, "minutes")


def test_a_slot_the_hall_closed_is_cancelled_not_a_no_show(hw):
    from gridcare.hall.models import HallClosure

    a = book(hw, slot(9, 30))
    # The hall then closes that day (a renovation): the customer could not come, so it is no no-show.
    HallClosure.objects.create(hall=hw.hall_a, day=slot(9, 30).date(), reason="装修")
    assert ap.no_show_mark(now=slot(10, 3)) == 0
    a.refresh_from_db()
    assert a.status == AppointmentStatus.CANCELLED
    e = AuditEvent.objects.get(action="hall.appointment_cancel")
    assert e.changes["by"] == "hall_closed" and e.changes["ids"] == [a.pk]


def test_three_no_shows_through_the_job_ban_the_phone(hw):
    # Three slots missed on three days (the job runs after each): the 3rd ends at 10:00 on Mar 12 → banned
    # until Apr 11 10:00.
    for k in range(3):
        day = date(2026, 3, 10 + k)
        book(hw, slot(9, 30, day), now=d(2026, 3, 10 + k, 9, 0))
        ap.no_show_mark(now=d(2026, 3, 10 + k, 10, 5))
    with pytest.raises(ValidationError) as e:
        book(hw, slot(10, 0, date(2026, 3, 13)), now=d(2026, 3, 13, 9, 0))
    assert "2026-04-11 10:00" in e.value.message_dict["phone"][0]
