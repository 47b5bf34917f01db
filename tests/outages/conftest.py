"""Outage fixtures: a small grid in bureau A on top of `world`.

Station A1 has feeder F1 with areas T1 (urban, 4 household accounts), T2 (centre, 3 accounts: one dedicated
10 kV customer that is also important) and feeder F2 with area T3 (rural, 2 accounts); station B1 keeps
`world.area_b` (1 account). Account numbers: T1 31000001xx, T2 31000002xx, T3 31000003xx."""

from types import SimpleNamespace

import pytest

from gridcare.customers.choices import AreaType, Segment
from gridcare.customers.models import ServicePoint
from tests.factories import AreaFactory, CustomerFactory, FeederFactory, make_account


@pytest.fixture
def grid(world):
    st = world.station_a
    f1 = FeederFactory(code="F1", name="10kV东关一线", unit=st)
    f2 = FeederFactory(code="F2", name="10kV东关二线", unit=st)
    t1 = AreaFactory(code="T1", name="东关1号台区", feeder=f1, unit=st, area_type=AreaType.URBAN)
    t2 = AreaFactory(code="T2", name="东关2号台区", feeder=f1, unit=st, area_type=AreaType.CENTRE)
    t3 = AreaFactory(code="T3", name="东关3号台区", feeder=f2, unit=st, area_type=AreaType.RURAL)
    accounts: dict[str, list] = {"T1": [], "T2": [], "T3": []}
    for code, area, n in (("T1", t1, 4), ("T2", t2, 3), ("T3", t3, 2)):
        for i in range(n):
            important = code == "T2" and i == 0
            cust = CustomerFactory(unit=st, segment=Segment.IMPORTANT if important else Segment.HOUSEHOLD)
            acct = make_account(cust, f"3100000{code[1]}{i:02d}", area)
            if important:
                ServicePoint.objects.filter(account=acct).update(voltage_level="10kV")
            accounts[code].append(acct)
    return SimpleNamespace(world=world, f1=f1, f2=f2, t1=t1, t2=t2, t3=t3, accounts=accounts)
