"""Two counters calling at once never get the same ticket (issue 16): counters in threads, each on its own
PostgreSQL connection, call next over one pool of waiting tickets at the same moment. No ticket is called twice
and none is lost. Skipped on SQLite (one connection in memory: no parallel transactions)."""

import importlib
import threading
from collections import Counter as Tally

import pytest
from django.apps import apps
from django.db import connection

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Role
from gridcare.hall import services
from gridcare.hall.choices import TicketStatus, TicketStep
from gridcare.hall.models import Category, Ticket, TicketEvent

from ..factories import UserFactory
from .conftest import at, make_hall

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="parallel connections need PostgreSQL"
)
pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

COUNTERS = 8


@pytest.fixture
def hall(world):
    """A hall of COUNTERS counters serving every category, each opened by its own clerk. The category seed
    (a data migration) is loaded again when an earlier transactional test flushed it."""
    if not Category.objects.exists():
        importlib.import_module("gridcare.hall.migrations.0002_seed_categories").seed(apps, None)
    h = make_hall(world.bureau_a, "HP", "并发营业厅", COUNTERS)
    counters = list(h.counters.order_by("number"))
    actors = []
    for c in counters:
        clerk = UserFactory(username=f"pclerk{c.number}", role=Role.COUNTER_CLERK, unit=world.bureau_a)
        actor = Actor(user=clerk, channel=Channel.CONSOLE)
        services.counter_open(counter=c, actor=actor, now=at(0))
        actors.append(actor)
    return h, counters, actors


def issue(h, n: int, categories=("payment", "consult", "invoice")) -> list[int]:
    ids = []
    for i in range(n):
        t = services.ticket_issue(
            hall=h,
            category=categories[i % len(categories)],
            source="kiosk",
            priority_reason="elderly" if i % 7 == 3 else "",
            now=at(1 + i * 0.1),
        )
        ids.append(t.pk)
    return ids


def race(counters, actors, *, calls_each: int | None, now_minutes: float = 30) -> list[list[int]]:
    """Every counter in its own thread (and connection) calls next, all released at once: `calls_each` times,
    or until nobody is waiting. Returns the ticket ids each counter got."""
    barrier = threading.Barrier(len(counters))
    got: list[list[int]] = [[] for _ in counters]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait(timeout=30)
            n = 0
            while calls_each is None or n < calls_each:
                called = services.ticket_call_next(
                    counter=counters[k], actor=actors[k], now=at(now_minutes + n * 0.01)
                )
                n += 1
                if called.ticket is None:
                    if calls_each is None:
                        break
                    continue
                got[k].append(called.ticket.pk)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(counters))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return got


def test_parallel_counters_call_every_ticket_exactly_once(hall):
    h, counters, actors = hall
    ids = issue(h, 120)
    got = race(counters, actors, calls_each=None)
    called = [pk for per in got for pk in per]
    assert sorted(called) == sorted(ids)  # none twice, none lost
    assert sum(1 for per in got if per) >= 2  # the counters really shared the pool
    assert not Ticket.objects.filter(status=TicketStatus.WAITING).exists()
    # One call event per ticket, by the counter that got it.
    events = Tally(TicketEvent.objects.filter(kind=TicketStep.CALLED).values_list("ticket_id", flat=True))
    assert set(events.values()) == {1} and set(events) == set(ids)
    by_counter = {pk: counters[k].pk for k, per in enumerate(got) for pk in per}
    for t in Ticket.objects.all():
        assert t.counter_id == by_counter[t.pk]
        # Each call finished the counter's previous ticket, the last call (nobody waiting) its last one.
        assert t.status == TicketStatus.DONE


def test_calls_equal_to_tickets_leave_none_waiting(hall):
    """As many calls as tickets, spread over the counters at once: each call gets a different ticket."""
    h, counters, actors = hall
    ids = issue(h, COUNTERS * 5)
    got = race(counters, actors, calls_each=5)
    called = [pk for per in got for pk in per]
    assert len(called) == len(set(called)) == len(ids)
    assert set(called) == set(ids)


def test_two_counters_one_ticket(hall):
    h, counters, actors = hall
    (only,) = issue(h, 1)
    got = race(counters[:2], actors[:2], calls_each=1)
    assert sorted(len(per) for per in got) == [0, 1]
    assert [pk for per in got for pk in per] == [only]
