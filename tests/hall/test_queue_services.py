"""The queue's core services with an injected clock: issue, call next by the rule, recall, no-show, transfer,
pause; two counters never get the same ticket (sequentially here; in parallel on PostgreSQL: test_concurrency)."""

import pytest
from django.core.exceptions import ValidationError

from gridcare.hall import services
from gridcare.hall.choices import TicketSource, TicketStatus
from gridcare.hall.models import CounterSetup, HallClosure, Ticket, TicketEvent

from .conftest import at


def _open(w, counter, user=None, categories=None):
    setup = CounterSetup.objects.get(pk=counter.pk)
    if categories is not None:
        setup.categories.set([w.cat[c] for c in categories])
    services.counter_open(counter=counter, actor=w.actor(user or w.a_clerk), now=at(0))


def _issue(w, code, minutes, **kw):
    kw.setdefault("source", TicketSource.GREETER)
    return services.ticket_issue(
        hall=w.hall_a, category=code, now=at(minutes), actor=w.actor(w.a_clerk), **kw
    )


def test_numbers_per_category_and_day_go_to_four_digits(hw):
    a1 = _issue(hw, "payment", 0)
    b1 = _issue(hw, "new_connection", 1)
    a2 = _issue(hw, "payment", 2)
    assert (a1.number, b1.number, a2.number) == ("A001", "B001", "A002")
    assert services.ticket_number("A", 999) == "A999"
    assert services.ticket_number("A", 1000) == "A1000"
    # Numbers restart on the next day.
    nxt = services.ticket_issue(
        hall=hw.hall_a, category="payment", source=TicketSource.KIOSK, now=at(24 * 60)
    )
    assert nxt.number == "A001"


def test_closed_hall_and_unknown_category_refused_and_nothing_written(hw):
    before = Ticket.objects.count()
    with pytest.raises(ValidationError) as e:
        _issue(hw, "payment", -60)  # 08:00, before the 08:30 opening
    assert "hall" in e.value.message_dict
    HallClosure.objects.create(hall=hw.hall_a, day=at(0).date(), reason="装修")
    with pytest.raises(ValidationError):
        _issue(hw, "payment", 10)
    HallClosure.objects.all().delete()
    with pytest.raises(ValidationError) as e:
        _issue(hw, "nonsense", 10)
    assert "category" in e.value.message_dict
    assert Ticket.objects.count() == before


def test_call_next_follows_priority_then_age_and_the_guard(hw):
    _open(hw, hw.c1)
    n1 = _issue(hw, "payment", 0)  # normal, 09:00
    n2 = _issue(hw, "payment", 10)  # normal, 09:10
    p1 = _issue(hw, "payment", 15, priority_reason="disabled")  # priority, 09:15
    # At 09:16 nobody has waited more than 20 minutes: the priority ticket goes first, then n1, n2.
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(16)).ticket
    assert got.pk == p1.pk
    # At 09:25 n1 has waited 25 > 20 minutes: it is in the priority line at 09:00 — ahead of a priority ticket
    # issued at 09:20.
    p2 = _issue(hw, "payment", 20, priority_reason="vip")
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(25)).ticket
    assert got.pk == n1.pk
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(26)).ticket
    assert got.pk == p2.pk
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(27)).ticket
    assert got.pk == n2.pk
    # The previous ones were finished by each call.
    assert set(Ticket.objects.filter(pk__in=[p1.pk, n1.pk, p2.pk]).values_list("status", flat=True)) == {
        TicketStatus.DONE
    }


def test_elderly_by_id_birth_date(hw):
    from ..factories import valid_id_number

    old = valid_id_number(1, birth="19610310")  # 65 on 2026-03-10
    young = valid_id_number(2, birth="19610311")  # 64 until tomorrow
    t_old = _issue(hw, "payment", 0, id_number=old)
    t_young = _issue(hw, "payment", 0, id_number=young)
    assert t_old.priority_reason == "elderly"
    assert t_young.priority_reason == ""
    with pytest.raises(ValidationError) as e:
        _issue(hw, "payment", 0, id_number="110105196103100000")
    assert "id_number" in e.value.message_dict


def test_recall_then_no_show_after_three(hw):
    _open(hw, hw.c1)
    t = _issue(hw, "payment", 0)
    services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1))
    with pytest.raises(ValidationError):
        services.ticket_no_show(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1.5))
    for k in range(3):
        services.ticket_recall(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(2 + k))
    with pytest.raises(ValidationError):
        services.ticket_recall(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(6))
    # A call with a called ticket still at the counter is refused.
    with pytest.raises(ValidationError):
        services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(6))
    done = services.ticket_no_show(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(7))
    assert done.status == TicketStatus.NO_SHOW
    kinds = list(TicketEvent.objects.filter(ticket=t).values_list("kind", flat=True))
    assert kinds == ["issued", "called", "recalled", "recalled", "recalled", "no_show"]


def test_transfer_keeps_place(hw):
    _open(hw, hw.c1, categories=["payment"])
    _open(hw, hw.c2, categories=["invoice"])
    t = _issue(hw, "payment", 0)
    services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1))
    later = _issue(hw, "invoice", 2)
    services.ticket_transfer(counter=hw.c1, to_category="invoice", actor=hw.actor(hw.a_clerk), now=at(3))
    # The transferred ticket (issued 09:00) comes before the invoice ticket issued at 09:02.
    got = services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(4)).ticket
    assert got.pk == t.pk and got.number == "A001" and got.category.code == "invoice"
    assert (
        services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(5)).ticket.pk == later.pk
    )


def test_transfer_to_counter_only_that_counter_calls_it(hw):
    _open(hw, hw.c1, categories=["payment"])
    _open(hw, hw.c2, categories=["payment"])
    _open(hw, hw.c3, categories=["payment"])
    t = _issue(hw, "payment", 0)
    services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1))
    services.ticket_transfer(counter=hw.c1, to_counter=hw.c3, actor=hw.actor(hw.a_clerk), now=at(2))
    assert services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(3)).ticket is None
    assert services.ticket_call_next(counter=hw.c3, actor=hw.actor(hw.a_clerk), now=at(4)).ticket.pk == t.pk


def test_call_of_a_category_the_counter_does_not_serve_is_refused(hw):
    _open(hw, hw.c1, categories=["payment"])
    t = _issue(hw, "new_connection", 0)
    with pytest.raises(ValidationError) as e:
        services.ticket_call(counter=hw.c1, ticket=t, actor=hw.actor(hw.a_clerk), now=at(1))
    assert "ticket" in e.value.message_dict
    t.refresh_from_db()
    assert t.status == TicketStatus.WAITING and t.counter_id is None


def test_pause_stops_calls(hw):
    _open(hw, hw.c1)
    _issue(hw, "payment", 0)
    services.counter_pause(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(1))
    with pytest.raises(ValidationError):
        services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(2))
    services.counter_resume(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(12))
    assert services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(13)).ticket is not None


def test_two_counters_never_get_the_same_ticket(hw):
    _open(hw, hw.c1)
    _open(hw, hw.c2)
    a = _issue(hw, "payment", 0)
    b = _issue(hw, "payment", 1)
    g1 = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(2)).ticket
    g2 = services.ticket_call_next(counter=hw.c2, actor=hw.actor(hw.a_clerk), now=at(2)).ticket
    assert {g1.pk, g2.pk} == {a.pk, b.pk}


def test_remote_ticket_skipped_until_checked_in(hw):
    _open(hw, hw.c1)
    r = _issue(hw, "payment", 0, source=TicketSource.PORTAL, phone="13911112222")
    n = _issue(hw, "payment", 5)
    with pytest.raises(ValidationError):
        _issue(hw, "payment", 6, source=TicketSource.PORTAL, phone="13911112222")
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(7))
    assert got.ticket.pk == n.pk and [t.pk for t in got.remote_called] == [r.pk]
    services.ticket_check_in(ticket=r, now=at(10))
    got = services.ticket_call_next(counter=hw.c1, actor=hw.actor(hw.a_clerk), now=at(11)).ticket
    assert got.pk == r.pk


def test_other_units_clerk_cannot_operate(hw):
    from gridcare.core.scoping import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.counter_open(counter=hw.c1, actor=hw.actor(hw.b_clerk), now=at(0))
