"""Hall fixtures: bureau A runs a hall with three counters (set up with the defaults), bureau B one counter; the
clock is injected (a Tuesday morning, China time) — no test reads today's date."""

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.permissions import Role
from gridcare.hall import services
from gridcare.hall.models import Category
from gridcare.org.models import Counter, ServiceHall

from ..factories import UserFactory

CHINA = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-03-10 09:00 China time: an open day, an hour after the default 08:30 opening.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=CHINA)


def at(minutes: float) -> datetime:
    """T0 plus `minutes`."""
    return T0 + timedelta(minutes=minutes)


def make_hall(unit, code: str, name: str, counters: int) -> ServiceHall:
    hall = ServiceHall.objects.create(unit=unit, code=code, name=name, address="城关镇人民路1号")
    Counter.objects.bulk_create(
        Counter(hall=hall, number=k, name=f"{k}号窗口") for k in range(1, counters + 1)
    )
    services.hall_setup_defaults(hall)
    return hall


@pytest.fixture
def hw(world):
    """`world` plus halls: `hall_a` (bureau A, counters 1–3) and `hall_b` (bureau B, counter 1); `cat` maps
    category codes to categories; `actor(user)` builds an Actor; a cashier at A (`a_cashier`)."""
    hall_a = make_hall(world.bureau_a, "HA", "城东营业厅", 3)
    hall_b = make_hall(world.bureau_b, "HB", "城西营业厅", 1)
    w = world
    w.hall_a, w.hall_b = hall_a, hall_b
    w.c1, w.c2, w.c3 = list(hall_a.counters.order_by("number"))
    w.cb1 = hall_b.counters.get()
    w.cat = {c.code: c for c in Category.objects.all()}
    w.a_cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    w.actor = lambda user: Actor(user=user, channel=Channel.CONSOLE)
    return w


@pytest.fixture
def T():
    return SimpleNamespace(t0=T0, at=at)
