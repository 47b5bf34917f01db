"""The order in which a hall's counters call tickets (issue 16 §2): one pure function, fed plain values.

- A ticket is in the **priority line** when it has a priority reason (an appointment checked in no later than the
  grace after its slot start, the elderly, the disabled, a VIP), or when it is a normal ticket that has waited
  longer than the guard (default 20 minutes): `now − issued_at > guard`. Nobody is starved.
- The priority line comes first, oldest first: a priority ticket by its `queue_at` (its issue time, or for an
  appointment its check-in time), a starved normal ticket by its issue time ("joins the priority line at its issue
  time"). Then the other normal tickets, oldest first by issue time.
- Ties go to the lower id (the ticket issued first).

The database path (`services.ticket_call_next`) reads only the heads of the two lines, because the head of the
merged order is always the oldest priority ticket or the oldest normal ticket, and hands them to this function."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class QueueItem:
    """What the rule needs of a waiting ticket."""

    id: int
    issued_at: datetime
    queue_at: datetime  # issue time, or check-in time of an appointment on time
    priority: bool  # has a priority reason


def in_priority_line(item: QueueItem, *, now: datetime, guard: timedelta) -> bool:
    return item.priority or now - item.issued_at > guard


def sort_key(item: QueueItem, *, now: datetime, guard: timedelta) -> tuple:
    if item.priority:
        return (0, item.queue_at, item.id)
    if now - item.issued_at > guard:
        return (0, item.issued_at, item.id)
    return (1, item.issued_at, item.id)


def queue_order(items: Iterable[QueueItem], *, now: datetime, guard: timedelta) -> list[QueueItem]:
    """The waiting tickets in the order counters call them."""
    return sorted(items, key=lambda it: sort_key(it, now=now, guard=guard))
