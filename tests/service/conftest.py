"""Fixtures of the 95598 service tests: the shared `world`, plus a dispatcher (repair crew) and an agent at B."""

import pytest

from gridcare.core.permissions import Role

from ..factories import UserFactory


@pytest.fixture
def svc(world):
    world.a_dispatcher = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=world.bureau_a)
    world.b_agent = UserFactory(username="b_agent", role=Role.AGENT, unit=world.bureau_b)
    return world
