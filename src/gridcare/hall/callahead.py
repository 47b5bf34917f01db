"""Call-ahead (issue 16 §4): after each call, the waiting customers with a mobile number who are now at most the
hall's `call_ahead_places` (default 3) places from being called get one SMS through the outbox; remote tickets
skipped because their holder is not in the hall get one telling them to come and check in.

A remote (portal) ticket is also told at issue when it already stands within those places (its holder is not in
the hall); a ticket issued in the hall is told only once the line moves it there. "Places from being called" is the number of tickets ahead of a ticket in its own category's line, in the order of
the priority rule (`services.line_head`): the head of each line has 0 ahead, so with 3 places the first four of each
category's line qualify. Reads stay bounded: one line head of `places + 1` tickets per category whose line moved
(the called ticket's category and those of remote tickets skipped by the call — no other line moves when a ticket
is called), and one read of those tickets' phones. Each SMS has a dedupe key per ticket (`hall_call_ahead:<id>`,
`hall_come_in:<id>`) and the `call_ahead_sent` flag is set by a conditional UPDATE, so a ticket gets at most one
call-ahead SMS whatever runs twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from gridcare.core.validators import MOBILE_RE


def category_line(hall_id: int, category_id: int):
    """The waiting tickets of one category's line at a hall (a remote ticket told to come but not yet checked in
    is out of the line until it checks in, as the counters skip it)."""
    from .choices import TicketStatus
    from .models import Ticket

    return Ticket.objects.filter(
        hall_id=hall_id, category_id=category_id, status=TicketStatus.WAITING
    ).exclude(checked_in_at__isnull=True, remote_called_at__isnull=False)


def after_call(*, hall, profile, now: datetime, categories=None, remote_called=None) -> None:
    """Queue the SMS of this call (inside the caller's transaction). `categories`: the ids of the lines that moved
    (None: every category the hall offers)."""
    from gridcare.notify.outbox import transactional_sms_enqueue

    from . import services
    from .choices import TicketStep
    from .models import HallCategory, Ticket, TicketEvent

    places = profile.call_ahead_places
    guard = timedelta(minutes=profile.starvation_guard_minutes)
    ahead_of: dict[int, int] = {}
    if places > 0:
        if categories is None:
            categories = HallCategory.objects.filter(hall=hall).values_list("category_id", flat=True)
        for category_id in sorted(set(categories)):
            head = services.line_head(category_line(hall.pk, category_id), n=places + 1, now=now, guard=guard)
            for k, item in enumerate(head):
                ahead_of[item.id] = k
    if ahead_of:
        rows = Ticket.objects.filter(pk__in=list(ahead_of), call_ahead_sent=False).exclude(phone="")
        for t in rows.only("id", "number", "phone"):
            if not MOBILE_RE.match(t.phone):
                continue
            if not Ticket.objects.filter(pk=t.pk, call_ahead_sent=False).update(call_ahead_sent=True):
                continue
            ahead = ahead_of[t.pk]
            transactional_sms_enqueue(
                kind="hall_call_ahead",
                phone=t.phone,
                context={"hall": hall.name, "number": t.number, "ahead": ahead},
                dedupe_key=f"hall_call_ahead:{t.pk}",
                now=now,
            )
            TicketEvent.objects.create(
                ticket=t, kind=TicketStep.NOTIFIED, at=now, detail={"sms": "hall_call_ahead", "ahead": ahead}
            )
    for t in remote_called or ():
        if not t.phone or not MOBILE_RE.match(t.phone):
            continue
        transactional_sms_enqueue(
            kind="hall_come_in",
            phone=t.phone,
            context={"hall": hall.name, "number": t.number, "minutes": profile.remote_checkin_minutes},
            dedupe_key=f"hall_come_in:{t.pk}",
            now=now,
        )
        TicketEvent.objects.create(ticket=t, kind=TicketStep.NOTIFIED, at=now, detail={"sms": "hall_come_in"})


def after_issue(*, ticket, profile, now: datetime) -> None:
    """A remote ticket that starts within the call-ahead places gets its SMS at once (inside the caller's
    transaction)."""
    from gridcare.notify.outbox import transactional_sms_enqueue

    from . import services
    from .choices import TicketStep
    from .models import Ticket, TicketEvent

    places = profile.call_ahead_places
    if places <= 0 or not ticket.phone or not MOBILE_RE.match(ticket.phone):
        return
    guard = timedelta(minutes=profile.starvation_guard_minutes)
    head = services.line_head(
        category_line(ticket.hall_id, ticket.category_id), n=places + 1, now=now, guard=guard
    )
    ahead = next((k for k, item in enumerate(head) if item.id == ticket.pk), None)
    if ahead is None or not Ticket.objects.filter(pk=ticket.pk, call_ahead_sent=False).update(
        call_ahead_sent=True
    ):
        return
    ticket.call_ahead_sent = True
    transactional_sms_enqueue(
        kind="hall_call_ahead",
        phone=ticket.phone,
        context={"hall": ticket.hall.name, "number": ticket.number, "ahead": ahead},
        dedupe_key=f"hall_call_ahead:{ticket.pk}",
        now=now,
    )
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketStep.NOTIFIED, at=now, detail={"sms": "hall_call_ahead", "ahead": ahead}
    )
