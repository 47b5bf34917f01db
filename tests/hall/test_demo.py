"""The hall demo (`gridcare demo_hall`) on the `hw` halls (A: three counters, B: one), a third of the default
volume, as of a fixed Monday: three months of tickets for every hall with month-start and month-end peaks,
consistent timestamps, ratings and follow-ups, appointments, terminal events and tasks, open counters and waiting
tickets now, devices whose keys derive from SECRET_KEY; idempotent."""

from collections import defaultdict
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from gridcare.core.clock import demo_clock
from gridcare.hall import demo
from gridcare.hall.choices import CounterState, DeviceKind, TicketStatus, TicketStep
from gridcare.hall.devices import device_for_key
from gridcare.hall.models import (
    Appointment,
    CounterSession,
    CounterSetup,
    HallDevice,
    MaintenanceTask,
    Rating,
    RatingFollowUp,
    TerminalDay,
    TerminalEvent,
    TerminalState,
    Ticket,
    TicketEvent,
)
from gridcare.payments.models import Terminal

TODAY = date(2026, 11, 30)  # a Monday, month end; the demo hour is 16:00 China time


@pytest.fixture
def built(hw):
    today, now = demo_clock(TODAY)
    counts = demo.demo_hall(today=today, now=now, seed=7, scale=0.35)
    return hw, now, counts


def test_every_hall_has_three_months_of_tickets_with_month_end_and_start_peaks(built):
    hw, now, counts = built
    first = TODAY - timedelta(days=demo.DAYS - 1)
    for hall in (hw.hall_a, hw.hall_b):
        per_day = defaultdict(int)
        for day in Ticket.objects.filter(hall=hall).values_list("day", flat=True):
            per_day[day] += 1
        assert min(per_day) == first and max(per_day) == TODAY
        assert len(per_day) >= 85  # open every day of the week; a quiet day may have no arrival at hall B
        weekdays = {d: n for d, n in per_day.items() if d.isoweekday() <= 5}
        peak = [n for d, n in weekdays.items() if d.day <= 5 or d.day >= 25]
        mid = [n for d, n in weekdays.items() if 10 <= d.day <= 20]
        assert sum(peak) / len(peak) > 1.3 * sum(mid) / len(mid), (hall.code, peak, mid)
    assert counts["tickets"] == Ticket.objects.count() > 2000


def test_timestamps_are_consistent_and_events_follow_them(built):
    _hw, now, _counts = built
    tickets = list(Ticket.objects.all())
    for t in tickets:
        assert t.issued_at <= t.queue_at and t.issued_at <= now
        assert t.checked_in_at is not None and t.issued_at <= t.checked_in_at <= now
        if t.first_called_at is not None:
            assert t.checked_in_at <= t.first_called_at <= t.called_at <= now
        if t.status == TicketStatus.DONE:
            assert t.first_called_at <= t.called_at <= t.started_at <= t.finished_at <= now
            assert t.counter_id is not None and t.clerk_id is not None
        if t.status == TicketStatus.NO_SHOW:
            assert t.recall_count == 3 and t.called_at <= t.closed_at <= now and t.started_at is None
        if t.status == TicketStatus.WAITING:
            assert t.called_at is None and t.counter_id is None
    statuses = {t.status for t in tickets}
    assert {TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.WAITING} <= statuses
    assert any(t.transfers for t in tickets) and any(t.priority_reason == "elderly" for t in tickets)
    # Each ticket's trail: issued first, in time order, ending in its state.
    trail = defaultdict(list)
    for e in TicketEvent.objects.order_by("at", "id"):
        trail[e.ticket_id].append(e)
    for t in tickets:
        events = trail[t.pk]
        assert events[0].kind == TicketStep.ISSUED and events[0].at == t.issued_at
        if t.status == TicketStatus.DONE:
            assert events[-1].kind == TicketStep.FINISHED and events[-1].at == t.finished_at
        if t.transfers:
            assert any(e.kind == TicketStep.TRANSFERRED for e in events)
    # Numbers restart every day per category: each letter runs 001, 002, … without a gap.
    seqs = defaultdict(list)
    for t in tickets:
        seqs[(t.hall_id, t.day, t.number[0])].append(int(t.number[1:]))
    for numbers in seqs.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_waits_and_appointments(built):
    hw, _now, _counts = built
    waits = [
        (t.first_called_at - t.issued_at).total_seconds()
        for t in Ticket.objects.filter(first_called_at__isnull=False, hall=hw.hall_a)
    ]
    assert max(waits) > 10 * 60  # the peaks make queues
    on_time = Ticket.objects.filter(source="appointment", priority_reason="appointment")
    assert on_time.exists()
    for t in on_time.select_related("appointment")[:50]:
        a = t.appointment
        assert a.status == "checked_in" and a.checked_in_at == t.checked_in_at == t.queue_at
        assert a.checked_in_at <= a.slot_start + timedelta(minutes=10) and a.created_at < a.slot_start
    assert Appointment.objects.filter(status="no_show", ticket__isnull=True).exists()


def test_ratings_follow_ups_sessions(built):
    _hw, now, _counts = built
    done = Ticket.objects.filter(status=TicketStatus.DONE).count()
    ratings = Rating.objects.select_related("ticket")
    assert 0.5 * done <= ratings.count() <= 0.7 * done
    satisfied = ratings.filter(score__in=("very_satisfied", "satisfied")).count()
    assert satisfied > 0.75 * ratings.count()
    for r in ratings.filter(score="dissatisfied"):
        assert r.reason and r.follow_up is not None
    for r in ratings[:200]:
        assert r.ticket.finished_at < r.rated_at <= now and r.clerk_id == r.ticket.clerk_id
        assert r.device is not None and r.device.counter_id == r.counter_id == r.ticket.counter_id
    assert RatingFollowUp.objects.filter(status="open").exists()
    assert RatingFollowUp.objects.filter(status="closed").exists()
    assert CounterSession.objects.filter(closed_at__isnull=True).exists()  # today's
    assert not CounterSession.objects.filter(
        closed_at__isnull=False, closed_at__lt=now - timedelta(days=91)
    ).exists()


def test_today_counters_open_and_tickets_waiting(built):
    hw, now, counts = built
    today_a = Ticket.objects.filter(hall=hw.hall_a, day=TODAY)
    assert today_a.filter(status=TicketStatus.WAITING).exists()
    assert counts["waiting_now"] == Ticket.objects.filter(status=TicketStatus.WAITING).count()
    open_setups = CounterSetup.objects.filter(counter__hall=hw.hall_a, state=CounterState.OPEN)
    assert open_setups.exists() and all(s.clerk_id for s in open_setups)
    for s in CounterSetup.objects.exclude(current=None):
        assert (
            s.current.status in (TicketStatus.CALLED, TicketStatus.SERVING) and s.current.counter_id == s.pk
        )


def test_devices_and_terminals(built):
    hw, now, counts = built
    for hall in (hw.hall_a, hw.hall_b):
        kinds = sorted(HallDevice.objects.filter(hall=hall).values_list("kind", flat=True))
        assert kinds.count(DeviceKind.EVALUATOR) == hall.counters.count()
        assert DeviceKind.DISPLAY in kinds and DeviceKind.KIOSK in kinds
        key = demo.device_key(hall, DeviceKind.DISPLAY)
        assert device_for_key(key, DeviceKind.DISPLAY).hall == hall
        terminals = Terminal.objects.filter(hall=hall)
        assert terminals.exists()
        for term in terminals:
            assert "BEGIN PUBLIC KEY" in term.public_key
            assert TerminalState.objects.filter(terminal=term).exists()
            assert TerminalDay.objects.filter(terminal=term).count() >= 85
    assert TerminalEvent.objects.filter(kind="offline").exists()
    assert MaintenanceTask.objects.filter(status="done").exists()
    for day in TerminalDay.objects.all():
        assert day.online_seconds <= 9 * 3600


def test_idempotent_and_the_command(built):
    hw, _now, _counts = built
    before = (
        Ticket.objects.count(),
        TicketEvent.objects.count(),
        Rating.objects.count(),
        Terminal.objects.count(),
    )
    before += (HallDevice.objects.count(), TerminalEvent.objects.count(), TerminalDay.objects.count())
    out = StringIO()
    call_command("demo_hall", "--today", TODAY.isoformat(), "--seed", "7", stdout=out)
    after = (
        Ticket.objects.count(),
        TicketEvent.objects.count(),
        Rating.objects.count(),
        Terminal.objects.count(),
    )
    after += (HallDevice.objects.count(), TerminalEvent.objects.count(), TerminalDay.objects.count())
    assert after == before
    text = out.getvalue()
    assert "nothing written" in text
    assert demo.device_key(hw.hall_a, DeviceKind.DISPLAY) in text  # the device pages, printed again


def test_deterministic_simulation():
    """The same seed gives the same day; the priority rule decides who is called (an elderly ticket issued
    later is called before the normal ones)."""
    import random
    from datetime import datetime

    from gridcare.hall.opening import CHINA

    def run():
        rng = random.Random(5)
        t0 = datetime(2026, 3, 10, 9, 0, tzinfo=CHINA)
        tickets = [
            demo.SimTicket(
                idx=i,
                category="payment",
                source="kiosk",
                priority="elderly" if i == 3 else "",
                issued_at=t0 + timedelta(minutes=i),
                arrive_at=t0 + timedelta(minutes=i),
                queue_at=t0 + timedelta(minutes=i),
            )
            for i in range(5)
        ]
        counters = [
            demo.SimCounter(
                number=1,
                categories=frozenset({"payment"}),
                clerk_id=1,
                free_at=t0 + timedelta(minutes=3, seconds=30),
            )
        ]
        demo.simulate_day(
            rng, tickets, counters, means={"payment": 3.5}, guard=timedelta(minutes=20), stop_at=None
        )
        return tickets

    a, b = run(), run()
    assert [(t.first_called_at, t.finished_at) for t in a] == [(t.first_called_at, t.finished_at) for t in b]
    order = sorted(a, key=lambda t: t.first_called_at)
    # At 09:03:30 tickets 0–3 wait; the elderly ticket 3 is called first, then 0, 1, 2, 4.
    assert [t.idx for t in order] == [3, 0, 1, 2, 4]
