"""GET /reliability/indices, /monthly, /targets through HTTP, and the `gridcare reliability` command."""

import json
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from gridcare.outages.freeze import freeze
from gridcare.outages.models import OutageEvent, OutageScope

CN = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/reliability/indices"


@pytest.fixture
def fault(grid):
    """T1 (4 of station A's 10 customers) out 2025-03-01 10:00–13:00: SAIFI 4/10 = 0.4, SAIDI 4 × 3 / 10 = 1.2 h."""
    ev = OutageEvent.objects.create(
        number="TD-API",
        unit=grid.world.station_a,
        kind="fault",
        title="t",
        planned_start=datetime(2025, 3, 1, 10, tzinfo=CN),
        planned_end=datetime(2025, 3, 1, 13, tzinfo=CN),
    )
    OutageScope.objects.create(event=ev, transformer_area=grid.t1)
    freeze(ev, start=datetime(2025, 3, 1, 10, tzinfo=CN), end=datetime(2025, 3, 1, 13, tzinfo=CN))
    return ev


def test_indices_of_a_unit_over_a_period(grid, fault, login):
    c = login(grid.world.a_agent)
    r = c.get(URL, {"unit": grid.world.station_a.pk, "start": "2025-01-01", "end": "2025-12-31"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["customers_served"] == 10
    assert body["all"]["saifi"] == pytest.approx(0.4)
    assert body["all"]["saidi_hours"] == pytest.approx(1.2)
    assert body["period_hours"] == 8760
    assert body["basis"] == "lv" and body["area_group"] == "all"
    assert set(body["cemi"]) == {"all", "excluding_med"}
    mv = c.get(
        URL, {"unit": grid.world.station_a.pk, "start": "2025-01-01", "end": "2025-12-31", "basis": "mv"}
    )
    # MV: 4 public areas + 1 dedicated = 5 users; T1 is one public transformer → SAIFI 1/5
    assert mv.json()["all"]["saifi"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2025-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2025-02-01", "end": "2025-01-31"}, "end"),
        ({"start": "2010-01-01", "end": "2020-01-02"}, "end"),  # 3,653 + 1 days
        ({"basis": "hv"}, "basis"),
        ({"area_group": "suburb"}, "area_group"),
        ({"unit": "A1"}, "unit"),
    ],
)
def test_bad_values_answer_422_naming_the_field(grid, login, params, field):
    r = login(grid.world.admin).get(URL, params)
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["detail"]] == [field]


def test_ten_years_exactly_is_allowed(grid, login):
    # 2010-01-01..2019-12-31 = 3,652 days; ..2020-01-01 = 3,653 days: the limit itself
    r = login(grid.world.admin).get(URL, {"start": "2010-01-01", "end": "2020-01-01"})
    assert r.status_code == 200 and r.json()["period_hours"] == 3653 * 24


def test_scope_defaults_and_anonymous(grid, fault, login):
    assert login(grid.world.b_clerk).get(URL, {"unit": grid.world.station_a.pk}).status_code == 404
    assert login().get(URL).status_code == 401
    assert login(grid.world.portal_user).get(URL).status_code == 403
    r = login(grid.world.a_clerk).get(URL)  # the clerk's own unit (bureau A), this China year to date
    assert r.status_code == 200
    assert r.json()["unit"]["id"] == grid.world.bureau_a.pk


def test_targets_get_defaults_then_put_by_a_manager(grid, login):
    bureau = grid.world.bureau_a.pk
    got = login(grid.world.a_agent).get("/api/v1/reliability/targets", {"unit": bureau, "year": 2025}).json()
    lv = {t["area_group"]: t for t in got["targets"] if t["basis"] == "lv"}
    assert lv["all"]["saidi_hours_max"] == "15.6" and lv["all"]["default"] is True
    assert lv["centre"]["saidi_hours_max"] == "1"
    assert (lv["urban"]["rs1_percent_min"], lv["rural"]["rs1_percent_min"]) == ("99.9", "99.8")
    body = {"area_group": "centre", "basis": "lv", "saidi_hours_max": "0.8"}
    url = f"/api/v1/reliability/targets?unit={bureau}&year=2025"
    assert login(grid.world.a_agent).put(url, body, content_type="application/json").status_code == 403
    r = login(grid.world.a_manager).put(url, body, content_type="application/json")
    assert r.status_code == 200, r.content
    centre = [t for t in r.json()["targets"] if t["basis"] == "lv" and t["area_group"] == "centre"][0]
    assert centre["saidi_hours_max"] == "0.800" and centre["default"] is False
    bad = login(grid.world.a_manager).put(
        url, {"area_group": "centre", "rs1_percent_min": "100.5"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "rs1_percent_min"


def test_monthly_endpoint(grid, fault, login):
    r = login(grid.world.admin).get(
        "/api/v1/reliability/monthly", {"unit": grid.world.station_a.pk, "year": 2025}
    )
    assert r.status_code == 200
    march = r.json()["months"][2]
    assert march["all"]["saidi_hours"] == pytest.approx(1.2)
    assert login(grid.world.admin).get("/api/v1/reliability/monthly", {"year": "20x5"}).status_code == 422


def test_command_prints_the_indices_and_refuses_bad_input(grid, fault):
    out = StringIO()
    call_command(
        "reliability",
        "--unit",
        grid.world.station_a.code,
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
        stdout=out,
    )
    text = out.getvalue()
    assert "SAIDI 平均停电时间" in text and "1.2000" in text and "0.4000" in text
    out = StringIO()
    call_command(
        "reliability",
        "--unit",
        grid.world.station_a.code,
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["all"]["saifi"] == pytest.approx(0.4)
    with pytest.raises(CommandError, match="--unit"):
        call_command("reliability", "--unit", "NOPE", "--start", "2025-01-01", "--end", "2025-12-31")
    with pytest.raises(CommandError, match="--end"):
        call_command(
            "reliability", "--unit", grid.world.station_a.code, "--start", "2025-02-01", "--end", "2025-01-01"
        )
    with pytest.raises(CommandError, match="--basis"):
        call_command(
            "reliability",
            "--unit",
            grid.world.station_a.code,
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-02",
            "--basis",
            "hv",
        )
