"""What the TV display and the live position read: the last calls (recalls too), waiting per category, the
estimated-wait rule (waiting ahead × recent mean service minutes ÷ open counters), a ticket's places ahead by
the priority rule — with bounded queries."""

from datetime import timedelta

from gridcare.hall import display, services
from gridcare.hall.choices import TicketSource
from gridcare.hall.models import CounterSetup, Ticket

from .conftest import at


def _open(w, counter, categories):
    CounterSetup.objects.get(pk=counter.pk).categories.set([w.cat[c] for c in categories])
    services.counter_open(counter=counter, actor=w.actor(w.a_clerk), now=at(0))


def _issue(w, code, minutes, **kw):
    kw.setdefault("source", TicketSource.GREETER)
    return services.ticket_issue(hall=w.hall_a, category=code, now=at(minutes), **kw)


def test_estimated_wait_rule():
    assert display.estimated_wait(0, 5.0, 2) == 0
    assert display.estimated_wait(3, 5.0, 2) == 8  # 3 × 5 ÷ 2 = 7.5 → 8
    assert display.estimated_wait(4, 5.0, 2) == 10
    assert display.estimated_wait(4, 4.5, 3) == 6
    assert display.estimated_wait(4, 5.0, 0) is None


def test_board_calls_lines_and_waits(hw, django_assert_max_num_queries):
    _open(hw, hw.c1, ["payment"])
    _open(hw, hw.c2, ["payment", "new_connection"])
    # Two finished payment tickets in the last 7 days: 4 and 8 minutes of service → mean 6.
    for k, minutes in enumerate((4, 8)):
        t = _issue(hw, "payment", -30 + k)
        Ticket.objects.filter(pk=t.pk).update(
            status="done", started_at=at(-20), finished_at=at(-20) + timedelta(minutes=minutes)
        )
    a = [_issue(hw, "payment", m) for m in (1, 2, 3, 4)]
    _issue(hw, "new_connection", 5)
    services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(6))  # calls A003 (a[0])
    services.ticket_recall(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(7))
    services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(8))  # A004 (a[1])

    with django_assert_max_num_queries(6):
        b = display.board(hw.hall_a, at(9))
    calls = [(c.number, c.counter, c.recall) for c in b["calls"]]
    assert calls == [("A004", 2, False), ("A003", 1, True), ("A003", 1, False)]
    assert b["calls"][0].speech == "请 A 0 0 4 号到 2 号窗口办理"
    lines = {line.category.code: line for line in b["lines"]}
    # payment: A005, A006 waiting; mean 6 min; 2 open counters → ⌈2 × 6 ÷ 2⌉ = 6.
    assert (lines["payment"].waiting, lines["payment"].counters, lines["payment"].wait_minutes) == (2, 2, 6)
    # new_connection: 1 waiting, no history (5 min), 1 counter → 5.
    assert (lines["new_connection"].waiting, lines["new_connection"].wait_minutes) == (1, 5)
    # consult: no counter serves it → unknown.
    assert lines["consult"].waiting == 0 and lines["consult"].wait_minutes is None
    assert a[0].number == "A003"


def test_places_ahead_follow_the_rule(hw):
    _open(hw, hw.c1, ["payment"])
    n1 = _issue(hw, "payment", 0)
    n2 = _issue(hw, "payment", 10)
    p1 = _issue(hw, "payment", 15, priority_reason="disabled")
    n3 = _issue(hw, "payment", 16)
    guard = timedelta(minutes=20)
    # 09:16: nobody starved: p1, n1, n2, n3.
    assert [display.places_ahead(t, at(16), guard=guard) for t in (p1, n1, n2, n3)] == [0, 1, 2, 3]
    # 09:25: n1 waited 25 min → priority line at 09:00, ahead of p1 (09:15).
    assert [display.places_ahead(t, at(25), guard=guard) for t in (n1, p1, n2, n3)] == [0, 1, 2, 3]
    # 09:35: n2 (09:10) starved too: n1, n2, p1, n3.
    assert [display.places_ahead(t, at(35), guard=guard) for t in (n1, n2, p1, n3)] == [0, 1, 2, 3]
    # The same as the counters' order.
    order = [t.pk for t in display.counter_waiting(hw.c1, at(35))]
    assert order == [n1.pk, n2.pk, p1.pk, n3.pk]
    pos = display.ticket_position(Ticket.objects.get(pk=n3.pk), at(35))
    assert (pos.ahead, pos.wait_minutes) == (3, 15)  # 3 × 5 ÷ 1


def test_position_of_a_ticket_no_longer_waiting(hw):
    _open(hw, hw.c1, ["payment"])
    t = _issue(hw, "payment", 0)
    services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1))
    pos = display.ticket_position(Ticket.objects.get(pk=t.pk), at(2))
    assert (pos.ahead, pos.wait_minutes) == (None, None)
