"""API fixtures: the shared `world` plus the roles the matrix needs, clients per user, a DB snapshot."""

import pytest
from django.test import Client

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import Account, AccountHolding, Customer, Meter, Premise, ServicePoint
from gridcare.org import services as org_services
from gridcare.org.models import ApiToken, Counter, ServiceHall

from ..factories import CustomerFactory, UserFactory

API = "/api/v1"


@pytest.fixture
def w(world):
    """`world` and: `dispatcher` (抢修指挥 at bureau A: views, no audit), `nounit` (a clerk not yet
    placed in a unit: no permission at all), `cust_a2` (a second customer in station A1, for 过户),
    a service hall in each station."""
    world.dispatcher = UserFactory(username="a_dispatcher", role=Role.DISPATCHER, unit=world.bureau_a)
    world.nounit = UserFactory(username="nounit", role=Role.COUNTER_CLERK, unit=None)
    world.cust_a2 = CustomerFactory(name="王小明", unit=world.station_a, phone="13611112222")
    system = Actor()
    world.hall_a = org_services.hall_create(
        actor=system, unit=world.station_a, code="HA", name="东关营业厅", counters=2
    )
    world.hall_b = org_services.hall_create(
        actor=system, unit=world.station_b, code="HB", name="西关营业厅", counters=1
    )
    world.sp_a = world.acct_a.service_points.get()
    world.sp_b = world.acct_b.service_points.get()
    world.meter_a = Meter.objects.get(asset_number="M3100000001")
    world.meter_b = Meter.objects.get(asset_number="M3200000001")
    return world


@pytest.fixture
def bearer():
    """`bearer(user)` → (clear key, client sending `Authorization: Bearer <key>`)."""

    def make(user, name="integration"):
        _token, key = org_services.api_token_create(actor=Actor(), user=user, name=name)
        return key, Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    return make


def send(client: Client, method: str, path: str, body=None):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, data=body or {}, content_type="application/json")


def db_state():
    """Every row a refused request must leave alone (the world is small, so compare them all)."""
    models = (
        Customer,
        Account,
        AccountHolding,
        Premise,
        ServicePoint,
        Meter,
        AuditEvent,
        ServiceHall,
        Counter,
    )
    state = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
    # A refused request made with a valid token still marks the token as used; nothing else may move.
    state["ApiToken"] = list(
        ApiToken.objects.order_by("pk").values("id", "user_id", "name", "key_hash", "revoked")
    )
    return state
