"""Reads of the hall queue for people: the display (last calls, waiting per category, estimated wait), a ticket's
live position, a counter's waiting list.

**Estimated wait** (the rule, one place): for a category,
`wait = ⌈ahead × mean service minutes ÷ open counters serving it⌉` minutes, where
- `ahead` is the number of tickets ahead in the category's line by the priority rule (for the display's "a new
  ticket would wait", all the category's waiting tickets);
- the mean service minutes are those of the category's last 20 tickets finished at the hall in the last 7 days
  (started → finished), or 5 minutes when there are none;
- open counters are those now open (not paused, not closed) that serve the category. With none open the wait is
  unknown (None: "暂无窗口办理").

Every read is bounded: a fixed number of queries whatever the queue's length."""

from __future__ import annotations

import math
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q

from . import services
from .callahead import category_line
from .choices import CounterState, TicketStatus, TicketStep
from .models import Category, CounterSetup, HallCategory, Ticket, TicketEvent
from .opening import china_day

DEFAULT_SERVICE_MINUTES = 5.0
SERVICE_SAMPLE = 20
SERVICE_WINDOW = timedelta(days=7)
RECENT_CALLS = 8


def estimated_wait(ahead: int, mean_minutes: float, open_counters: int) -> int | None:
    """The rule above (pure): whole minutes, rounded up; None when no counter serves the category."""
    if open_counters <= 0:
        return None
    if ahead <= 0:
        return 0
    return math.ceil(ahead * mean_minutes / open_counters - 1e-9)


def mean_service_minutes(hall, now: datetime) -> dict[int, float]:
    """Category id → mean service minutes of its last 20 tickets finished in the last 7 days (one query)."""
    rows = (
        Ticket.objects.filter(
            hall=hall,
            status=TicketStatus.DONE,
            finished_at__gte=now - SERVICE_WINDOW,
            finished_at__lte=now,
            started_at__isnull=False,
        )
        .order_by("-finished_at", "-id")
        .values_list("category_id", "started_at", "finished_at")[:2000]
    )
    samples: dict[int, list[float]] = {}
    for cid, started, finished in rows:
        if started is None or finished is None:
            continue
        got = samples.setdefault(cid, [])
        if len(got) < SERVICE_SAMPLE:
            got.append(max(0.0, (finished - started).total_seconds() / 60))
    return {cid: sum(v) / len(v) for cid, v in samples.items() if v}


def open_counters(hall) -> dict[int, int]:
    """Category id → number of open counters serving it (one query)."""
    through = CounterSetup.categories.through
    rows = through.objects.filter(
        countersetup__counter__hall=hall, countersetup__state=CounterState.OPEN
    ).values_list("category_id", flat=True)
    return dict(Tally(rows))


@dataclass
class CategoryLine:
    category: Category
    waiting: int
    mean_minutes: float
    counters: int
    wait_minutes: int | None


def category_lines(hall, now: datetime) -> list[CategoryLine]:
    """Per category the hall offers: waiting count, open counters and the estimated wait of a new ticket."""
    offered = [
        hc.category
        for hc in HallCategory.objects.filter(hall=hall, category__active=True)
        .select_related("category")
        .order_by("category__sort", "category__letter")
    ]
    waiting = dict(
        Ticket.objects.filter(hall=hall, status=TicketStatus.WAITING)
        .exclude(checked_in_at__isnull=True, remote_called_at__isnull=False)
        .values_list("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    means = mean_service_minutes(hall, now)
    counters = open_counters(hall)
    out = []
    for c in offered:
        n, mean, k = waiting.get(c.pk, 0), means.get(c.pk, DEFAULT_SERVICE_MINUTES), counters.get(c.pk, 0)
        out.append(CategoryLine(c, n, mean, k, estimated_wait(n, mean, k)))
    return out


@dataclass
class Call:
    event_id: int
    number: str
    counter: int | None
    recall: bool
    at: datetime

    @property
    def speech(self) -> str:
        # Letters and digits read one by one ("A 0 1 2"), the way halls announce numbers.
        spaced = " ".join(self.number)
        return f"请 {spaced} 号到 {self.counter} 号窗口办理" if self.counter else f"请 {spaced} 号办理"


def recent_calls(hall, now: datetime, *, n: int = RECENT_CALLS) -> list[Call]:
    """The last `n` calls and recalls of the hall today, newest first (one query)."""
    events = (
        TicketEvent.objects.filter(
            ticket__hall=hall,
            ticket__day=china_day(now),
            kind__in=(TicketStep.CALLED, TicketStep.RECALLED),
            at__lte=now,
        )
        .select_related("ticket", "counter")
        .order_by("-at", "-id")[:n]
    )
    return [
        Call(
            event_id=e.pk,
            number=e.ticket.number,
            counter=e.counter.number if e.counter is not None else None,
            recall=e.kind == TicketStep.RECALLED,
            at=e.at,
        )
        for e in events
    ]


def board(hall, now: datetime) -> dict:
    """What the hall's TV shows."""
    return {"calls": recent_calls(hall, now), "lines": category_lines(hall, now)}


# ---------------------------------------------------------------- a ticket's place


def places_ahead(ticket: Ticket, now: datetime, *, guard: timedelta) -> int:
    """Tickets ahead of a waiting `ticket` in its category's line by the priority rule (two COUNT queries).

    The rule's key: a priority ticket (0, queue_at, id); a normal one waiting longer than the guard (0, issued_at,
    id); another normal one (1, issued_at, id). Count the tickets whose key is smaller."""
    line = category_line(ticket.hall_id, ticket.category_id).exclude(pk=ticket.pk)
    starved_before = now - guard

    def before(field: str, value: datetime) -> Q:
        return Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": ticket.pk})

    prio, normal = ~Q(priority_reason=""), Q(priority_reason="")
    if ticket.priority_reason or ticket.issued_at < starved_before:
        t_at = ticket.queue_at if ticket.priority_reason else ticket.issued_at
        cond = (prio & before("queue_at", t_at)) | (
            normal & Q(issued_at__lt=starved_before) & before("issued_at", t_at)
        )
        return line.filter(cond).count()
    line0 = prio | (normal & Q(issued_at__lt=starved_before))
    return line.filter(line0 | (normal & before("issued_at", ticket.issued_at))).count()


@dataclass
class Position:
    ahead: int | None
    wait_minutes: int | None


def ticket_position(ticket: Ticket, now: datetime) -> Position:
    """A waiting ticket's places ahead and estimated wait (None for a ticket no longer waiting)."""
    if ticket.status != TicketStatus.WAITING:
        return Position(None, None)
    profile = services.hall_profile(ticket.hall)
    ahead = places_ahead(ticket, now, guard=timedelta(minutes=profile.starvation_guard_minutes))
    mean = mean_service_minutes(ticket.hall, now).get(ticket.category_id, DEFAULT_SERVICE_MINUTES)
    k = open_counters(ticket.hall).get(ticket.category_id, 0)
    return Position(ahead, estimated_wait(ahead, mean, k))


def counter_waiting(counter, now: datetime, *, n: int = 30) -> list[Ticket]:
    """The first `n` tickets this counter would call, in call order (the rule over the counter's categories and
    the tickets transferred to it); remote tickets not yet checked in are marked by `checked_in_at` None."""
    profile = services.hall_profile(counter.hall)
    qs = services.counter_line(counter.hall_id, counter, china_day(now))
    head = services.line_head(qs, n=n, now=now, guard=timedelta(minutes=profile.starvation_guard_minutes))
    by_id = {t.pk: t for t in Ticket.objects.select_related("category").filter(pk__in=[i.id for i in head])}
    return [by_id[i.id] for i in head if i.id in by_id]
