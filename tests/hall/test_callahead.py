"""Call-ahead (issue 16 §4): after each call, exactly the waiting tickets with a mobile number that are now at most
3 places from being called in their category's line get one SMS — once; a remote ticket skipped because its holder
is not in the hall gets one "come in" SMS."""

from gridcare.hall import callahead, services
from gridcare.hall.choices import TicketSource, TicketStep
from gridcare.hall.models import CounterSetup, Ticket, TicketEvent
from gridcare.notify.models import Notification

from .conftest import at


def _open(w, counter, categories):
    CounterSetup.objects.get(pk=counter.pk).categories.set([w.cat[c] for c in categories])
    services.counter_open(counter=counter, actor=w.actor(w.a_clerk), now=at(0))


def _issue(w, code, minutes, phone="", source=TicketSource.GREETER):
    return services.ticket_issue(hall=w.hall_a, category=code, source=source, now=at(minutes), phone=phone)


def _call(w, minutes, counter=None):
    return services.ticket_call_next(counter=counter or w.c1, actor=w.actor(w.a_clerk), now=at(minutes))


def _sms(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient", "body"))


def test_exactly_the_tickets_within_three_places_get_one_sms(hw):
    _open(hw, hw.c1, ["payment"])
    _issue(hw, "payment", 0, "13900000001")  # t1: called first
    _issue(hw, "payment", 1, "13900000002")  # t2
    _issue(hw, "payment", 2)  # t3: no phone, never notified
    _issue(hw, "payment", 3, "13900000004")  # t4
    _issue(hw, "payment", 4, "13900000005")  # t5
    t6 = _issue(hw, "payment", 5, "13900000006")
    # Its own line, 0 ahead, issued in the hall: told nothing (only a line that moves, or a remote ticket at issue,
    # makes an SMS).
    b1 = _issue(hw, "new_connection", 5, "13900000007")
    assert Notification.objects.count() == 0  # issuing in the hall sends nothing

    _call(hw, 6)  # t1 called: t2 has 0 ahead, t3 1, t4 2, t5 3, t6 4
    sent = dict((r, b) for r, b in _sms("hall_call_ahead"))
    assert set(sent) == {"13900000002", "13900000004", "13900000005"}
    assert "前面还有0位" in sent["13900000002"]
    assert "前面还有2位" in sent["13900000004"]
    assert "前面还有3位" in sent["13900000005"]
    assert "A002" in sent["13900000002"] and "城东营业厅" in sent["13900000002"]
    assert not Ticket.objects.get(pk=t6.pk).call_ahead_sent
    assert not Ticket.objects.get(pk=b1.pk).call_ahead_sent

    _call(hw, 7)  # t2 called: now t6 has 3 ahead (t3, t4, t5) — t6 only, the others not again
    recipients = [r for r, _b in _sms("hall_call_ahead")]
    assert sorted(recipients) == sorted(["13900000002", "13900000004", "13900000005", "13900000006"])
    assert "前面还有3位" in dict(_sms("hall_call_ahead"))["13900000006"]
    assert TicketEvent.objects.filter(kind=TicketStep.NOTIFIED).count() == 4

    # Running the hook again (every line) sends nothing more to those told; the B line's head, now checked over
    # every line, is told once.
    callahead.after_call(hall=hw.hall_a, profile=services.hall_profile(hw.hall_a), now=at(8))
    assert Notification.objects.filter(kind="hall_call_ahead").count() == 5
    callahead.after_call(hall=hw.hall_a, profile=services.hall_profile(hw.hall_a), now=at(9))
    assert Notification.objects.filter(kind="hall_call_ahead").count() == 5


def test_a_remote_ticket_within_the_places_is_told_at_issue(hw):
    _open(hw, hw.c1, ["payment"])
    _issue(hw, "payment", 0)
    r = _issue(hw, "payment", 1, "13900000009", source=TicketSource.PORTAL)  # 1 ahead
    [(recipient, body)] = _sms("hall_call_ahead")
    assert recipient == "13900000009" and "前面还有1位" in body and r.number in body
    # Far back in a long line: nothing at issue.
    for k in range(5):
        _issue(hw, "invoice", 2 + k)
    _issue(hw, "invoice", 8, "13900000010", source=TicketSource.PORTAL)  # 5 ahead
    assert len(_sms("hall_call_ahead")) == 1


def test_places_zero_turns_call_ahead_off(hw):
    profile = services.hall_profile(hw.hall_a)
    profile.call_ahead_places = 0
    profile.save()
    _open(hw, hw.c1, ["payment"])
    _issue(hw, "payment", 0, "13900000001")
    _issue(hw, "payment", 1, "13900000002")
    _call(hw, 2)
    assert Notification.objects.count() == 0


def test_priority_order_decides_who_is_near(hw):
    """Places follow the rule: a priority ticket issued later is ahead of normal ones."""
    profile = services.hall_profile(hw.hall_a)
    profile.call_ahead_places = 1
    profile.save()
    _open(hw, hw.c1, ["payment"])
    _issue(hw, "payment", 0)  # called first
    _issue(hw, "payment", 1, "13900000002")  # normal
    services.ticket_issue(
        hall=hw.hall_a,
        category="payment",
        source=TicketSource.GREETER,
        now=at(2),
        phone="13900000003",
        priority_reason="vip",
    )
    _issue(hw, "payment", 3, "13900000004")
    # At 09:04 the call takes the VIP (priority line first); then the 09:00 ticket has 0 ahead, the 09:01 one 1
    # (within 1 place: notified), the 09:03 one 2.
    got = _call(hw, 4).ticket
    assert got.priority_reason == "vip"
    assert [r for r, _b in _sms("hall_call_ahead")] == ["13900000002"]


def test_remote_ticket_skipped_gets_one_come_in_sms(hw):
    _open(hw, hw.c1, ["payment"])
    r = _issue(hw, "payment", 0, "13900000009", source=TicketSource.PORTAL)
    _issue(hw, "payment", 1)
    _issue(hw, "payment", 2)
    got = _call(hw, 3)
    assert [t.pk for t in got.remote_called] == [r.pk]
    come = _sms("hall_come_in")
    assert len(come) == 1 and come[0][0] == "13900000009"
    assert "30分钟" in come[0][1]
    _call(hw, 4)
    assert len(_sms("hall_come_in")) == 1
    # Told its place once, at issue (a remote ticket at the head of the line); never again while out of the line.
    assert [rcp for rcp, _b in _sms("hall_call_ahead")] == ["13900000009"]
