"""Shared fixtures: a company with two bureaus and a station each; staff of every role; two customers."""

import os
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from gridcare.core.permissions import Role
from gridcare.org.choices import UnitLevel

from .factories import PASSWORD, AreaFactory, CustomerFactory, UserFactory, make_account, make_unit

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in English leaves English active in the thread; every test starts in the default language."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def login():
    """`login(user)` → a test client with the user's console session (no user → anonymous)."""
    from django.test import Client

    def make(user=None) -> Client:
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


@pytest.fixture
def world(db):
    """Company → bureau A (station A1) and bureau B (station B1); staff and customers in A1 and B1.

    Attribute names: `a_clerk` (counter clerk at bureau A), `b_clerk` (counter clerk at bureau B),
    `a_agent` (95598 agent at A: may view, not edit, not see PII), `admin` (company admin),
    `a_reader` (meter reader at A), `a_manager` (manager at A), `portal_user` (a customer user, unbound).
    `cust_a` holds account 3100000001 in station A1; `cust_b` holds 3200000001 in station B1.
    """
    company = make_unit("01", "示范供电公司", UnitLevel.COMPANY)
    bureau_a = make_unit("0101", "城东供电局", UnitLevel.BUREAU, company)
    bureau_b = make_unit("0102", "城西供电局", UnitLevel.BUREAU, company)
    station_a = make_unit("010101", "东关供电所", UnitLevel.STATION, bureau_a)
    station_b = make_unit("010201", "西关供电所", UnitLevel.STATION, bureau_b)
    area_a = AreaFactory(unit=station_a)
    area_b = AreaFactory(unit=station_b)
    cust_a = CustomerFactory(name="张三", unit=station_a, phone="13812345678")
    cust_b = CustomerFactory(name="李四", unit=station_b, phone="13987654321")
    acct_a = make_account(cust_a, "3100000001", area_a, address="东关镇人民路18号")
    acct_b = make_account(cust_b, "3200000001", area_b, address="西关镇解放街7号")
    w = SimpleNamespace(
        company=company,
        bureau_a=bureau_a,
        bureau_b=bureau_b,
        station_a=station_a,
        station_b=station_b,
        area_a=area_a,
        area_b=area_b,
        cust_a=cust_a,
        cust_b=cust_b,
        acct_a=acct_a,
        acct_b=acct_b,
        password=PASSWORD,
        admin=UserFactory(username="admin1", role=Role.ADMIN, unit=company),
        a_clerk=UserFactory(username="a_clerk", role=Role.COUNTER_CLERK, unit=bureau_a),
        b_clerk=UserFactory(username="b_clerk", role=Role.COUNTER_CLERK, unit=bureau_b),
        a_agent=UserFactory(username="a_agent", role=Role.AGENT, unit=bureau_a),
        a_reader=UserFactory(username="a_reader", role=Role.METER_READER, unit=bureau_a),
        a_manager=UserFactory(username="a_manager", role=Role.MANAGER, unit=bureau_a),
        portal_user=UserFactory(username="13700000000", role=Role.CUSTOMER, unit=None, phone="13700000000"),
    )
    # Same primary keys must not leak across units by accident: sanity for the fixtures themselves.
    assert station_a.path.startswith(bureau_a.path) and not station_b.path.startswith(bureau_a.path)
    return w


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is not what these tests measure; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Uploaded files (work-order attachments) go to a throwaway folder, never the developer's var/media.
    import tempfile

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="gridcare-media-")


@pytest.fixture(autouse=True)
def _jobs_in_process(settings):
    """Jobs run in the test's own process unless a test asks for the real engine (tests/jobs/ real-worker tests)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
