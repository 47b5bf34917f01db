"""Credit fixtures: `cw` = `world` plus the credit roles at bureau A and a 动力户 (一般工商业) in station A1.
No test reads today's date: pass `as_of` / `today` / `now` explicitly."""

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from gridcare.core.permissions import Role

from ..factories import CustomerFactory, UserFactory, make_account, valid_uscc

CHINA = ZoneInfo("Asia/Shanghai")
# A fixed "today" for the credit tests: Tuesday 2026-12-01, 09:00 China time.
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=CHINA)


@pytest.fixture
def cw(world):
    """`world` plus: `inspector` (用电检查员, bureau A), `cmanager` (客户经理, bureau A), `a_manager2` (a second
    manager at bureau A: the approver when `a_manager` recorded), `b_manager` (manager, bureau B), `b_inspector`;
    `power_a`: a 一般工商业 customer in station A1 (account 3100000002) managed by `cmanager`; `cust_a` (residential
    in world) is a 照明户."""
    w = world
    w.inspector = UserFactory(
        username="a_inspector", role=Role.INSPECTOR, unit=w.bureau_a, phone="13600000001"
    )
    w.b_inspector = UserFactory(username="b_inspector", role=Role.INSPECTOR, unit=w.bureau_b)
    w.cmanager = UserFactory(
        username="a_cmanager", role=Role.CUSTOMER_MANAGER, unit=w.bureau_a, phone="13600000002"
    )
    w.a_manager2 = UserFactory(username="a_manager2", role=Role.MANAGER, unit=w.bureau_a)
    w.b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=w.bureau_b)
    w.power_a = CustomerFactory(
        name="东关机械厂",
        unit=w.station_a,
        phone="13811112222",
        kind="organisation",
        id_number=valid_uscc(7),
        customer_class="commercial",
        segment="sme",
        customer_manager=w.cmanager,
    )
    w.power_acct = make_account(w.power_a, "3100000002", w.area_a, address="东关镇工业路9号")
    return w


@pytest.fixture
def credit_ns():
    return SimpleNamespace(TODAY=TODAY, NOW=NOW)
