"""Billing fixtures: a reading route with four accounts of station A."""

import pytest
from django.utils import timezone

from gridcare.metering.models import Route, RouteMembership
from tests.factories import CustomerFactory, make_account


@pytest.fixture
def route(world):
    """Route R01 in station A: acct_a (3100000001) plus 3 factory accounts, in walking order."""
    r = Route.objects.create(
        code="R01", name="东关一段", unit=world.station_a, reading_day=5, created_at=timezone.now()
    )
    extra = [
        make_account(CustomerFactory(unit=world.station_a), f"31000000{n:02d}", world.area_a)
        for n in (2, 3, 4)
    ]
    world.accts = [world.acct_a, *extra]
    for seq, acct in enumerate(world.accts, start=1):
        RouteMembership.objects.create(account=acct, route=r, sequence=seq)
    return r
