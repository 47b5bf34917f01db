"""Voltage compliance (电压合格率): GB/T 12325 limits in Decimal, the rate per area and month, the monthly refresh,
the below-target list and the API."""

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from gridcare.outages.models import VoltageMonthly, VoltageReading
from gridcare.outages.voltage import (
    limits,
    rate,
    voltage_below_target,
    voltage_monthly_rates,
    voltage_monthly_refresh,
    within,
)

CN = ZoneInfo("Asia/Shanghai")


def test_220v_limits_are_minus_10_plus_7_percent_exactly():
    # 220 × 0.90 = 198.0; 220 × 1.07 = 235.4 (float would give 235.40000000000003)
    assert limits(D("220")) == (D("198.00"), D("235.40"))
    assert within(D("220"), D("198.0")) and within(D("220"), D("235.4"))
    assert not within(D("220"), D("235.5")) and not within(D("220"), D("197.9"))


def test_380v_10kv_35kv_limits():
    # 380 × 0.93 = 353.4, 380 × 1.07 = 406.6
    assert limits(D("380")) == (D("353.40"), D("406.60"))
    assert within(D("380"), D("353.4")) and within(D("380"), D("406.6"))
    assert not within(D("380"), D("406.7")) and not within(D("380"), D("353.3"))
    # 10 kV: 10000 × 0.93 = 9300, 10000 × 1.07 = 10700
    assert within(D("10000"), D("9300")) and not within(D("10000"), D("10701"))
    # 35 kV: 35000 × 0.97 = 33950, 35000 × 1.07 = 37450
    assert within(D("35000"), D("33950")) and not within(D("35000"), D("33949"))
    assert within(D("35000"), D("37450")) and not within(D("35000"), D("37451"))


def test_limits_are_configurable(settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "OUTAGES": {"VOLTAGE_LIMITS": [{"max": None, "low": -5, "high": 5}]},
    }
    # 220 × 0.95 = 209, 220 × 1.05 = 231
    assert limits(D("220")) == (D("209.00"), D("231.00"))
    assert not within(D("220"), D("198.0"))


def test_rate_is_ok_over_read_times_100():
    assert rate(2, 4) == D("50")
    assert rate(0, 0) is None
    # 1/3 × 100 = 33.33…
    assert rate(1, 3).quantize(D("0.01")) == D("33.33")


def _reading(area, hour, v, nominal="220", meter=None):
    return VoltageReading(transformer_area=area, meter=meter, hour=hour, nominal_v=D(nominal), voltage_v=D(v))


def test_monthly_refresh_example_g_one_hour_missing(grid):
    # T1, July 2025 (China): 4 hours read out of 5 (21:00 missing): 198.0 ✓ 235.4 ✓ 235.5 ✗ 197.9 ✗ → 2/4 = 50 %
    hours = [datetime(2025, 7, 1, h, tzinfo=CN) for h in (18, 19, 20, 22)]
    VoltageReading.objects.bulk_create(
        [_reading(grid.t1, h, v) for h, v in zip(hours, ("198.0", "235.4", "235.5", "197.9"), strict=True)]
    )
    # the first hour of July in China is 30 June 16:00 UTC: it belongs to July; the last of June does not
    VoltageReading.objects.create(**_fields(grid.t2, datetime(2025, 7, 1, 0, tzinfo=CN), "10000", "10701"))
    VoltageReading.objects.create(**_fields(grid.t2, datetime(2025, 6, 30, 23, tzinfo=CN), "10000", "9300"))
    assert voltage_monthly_refresh(months=[date(2025, 7, 1)]) == 2
    rows = {r.transformer_area_id: r for r in VoltageMonthly.objects.filter(month=date(2025, 7, 1))}
    assert (rows[grid.t1.pk].hours_read, rows[grid.t1.pk].hours_ok) == (4, 2)
    assert (rows[grid.t2.pk].hours_read, rows[grid.t2.pk].hours_ok) == (1, 0)
    assert rows[grid.t1.pk].unit_id == grid.t1.unit_id
    # refreshing again replaces, never doubles
    assert voltage_monthly_refresh(months=[date(2025, 7, 15)]) == 2
    assert VoltageMonthly.objects.filter(month=date(2025, 7, 1)).count() == 2


def _fields(area, hour, nominal, v, meter=None):
    return {
        "transformer_area": area,
        "meter": meter,
        "hour": hour,
        "nominal_v": D(nominal),
        "voltage_v": D(v),
    }


def test_per_meter_area_counts_each_meter_hour_and_mixed_nominals(grid):
    m1 = grid.accounts["T3"][0].service_points.get().meters.get()
    m2 = grid.accounts["T3"][1].service_points.get().meters.get()
    h = datetime(2025, 8, 3, 19, tzinfo=CN)
    VoltageReading.objects.bulk_create(
        [
            _reading(grid.t3, h, "200.0", meter=m1),  # ✓
            _reading(grid.t3, h, "190.0", meter=m2),  # ✗ (< 198)
            _reading(grid.t3, h, "406.6", nominal="380"),  # ✓ area point at 380 V
        ]
    )
    voltage_monthly_refresh(months=[date(2025, 8, 1)], area_ids=[grid.t3.pk])
    row = VoltageMonthly.objects.get(transformer_area=grid.t3)
    # three (meter-or-point, hour) pairs read, two within limits
    assert (row.hours_read, row.hours_ok) == (3, 2)


def test_below_target_uses_urban_96_and_rural_95(grid):
    month = date(2025, 8, 1)
    # T1 urban 95/100 = 95 % < 96 → below; T3 rural 95/100 = 95 % = target → not below; T2 centre 96 % → ok
    VoltageMonthly.objects.bulk_create(
        [
            VoltageMonthly(
                transformer_area=grid.t1, unit=grid.t1.unit, month=month, hours_read=100, hours_ok=95
            ),
            VoltageMonthly(
                transformer_area=grid.t2, unit=grid.t2.unit, month=month, hours_read=100, hours_ok=96
            ),
            VoltageMonthly(
                transformer_area=grid.t3, unit=grid.t3.unit, month=month, hours_read=100, hours_ok=95
            ),
        ]
    )
    below = voltage_below_target(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, month=month)
    assert [(r["area_code"], r["rate_percent"], r["voltage_complaints"]) for r in below] == [
        ("T1", D("95"), None)
    ]
    rates = voltage_monthly_rates(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, month=month)
    assert [r["area_code"] for r in rates] == ["T1", "T3", "T2"]  # worst first, ties by code


def test_voltage_api_scoped_and_422(grid, login):
    month = date(2025, 8, 1)
    VoltageMonthly.objects.create(
        transformer_area=grid.t1, unit=grid.t1.unit, month=month, hours_read=4, hours_ok=2
    )
    c = login(grid.world.a_agent)
    r = c.get(f"/api/v1/reliability/voltage?unit={grid.world.bureau_a.pk}&month=2025-08")
    assert r.status_code == 200
    body = r.json()
    assert body["areas"][0]["rate_percent"] == 50.0 and body["areas"][0]["voltage_complaints"] is None
    assert [a["area_code"] for a in body["below_target"]] == ["T1"]
    assert (
        c.get(f"/api/v1/reliability/voltage?unit={grid.world.bureau_b.pk}&month=2025-08").status_code == 404
    )
    bad = c.get(f"/api/v1/reliability/voltage?unit={grid.world.bureau_a.pk}&month=2025-13")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "month"
    assert (
        login().get(f"/api/v1/reliability/voltage?unit={grid.world.bureau_a.pk}&month=2025-08").status_code
        == 401
    )


@pytest.mark.parametrize("month", ["2025-8", "abc", "1999-01"])
def test_voltage_api_bad_month(grid, login, month):
    r = login(grid.world.a_agent).get(
        f"/api/v1/reliability/voltage?unit={grid.world.bureau_a.pk}&month={month}"
    )
    assert r.status_code == 422 and r.json()["detail"] == [
        {"field": "month", "message": "月份格式应为 YYYY-MM"}
    ]


def test_the_monthly_job_refreshes_a_month_and_is_scheduled_at_0200(grid):
    from gridcare.jobs import services as job_services
    from gridcare.jobs.registry import SCHEDULES

    VoltageReading.objects.create(**_fields(grid.t1, datetime(2025, 3, 5, 20, tzinfo=CN), "220", "197.9"))
    job = job_services.create("outages.voltage_monthly", {"month": "2025-03-17"}, actor=None)
    job = job_services.run(job.pk)
    assert job.state == "succeeded" and job.result == {"months": ["2025-03-01"], "rows": 1}
    row = VoltageMonthly.objects.get(transformer_area=grid.t1)
    assert (row.month, row.hours_read, row.hours_ok) == (date(2025, 3, 1), 1, 0)  # 197.9 < 198.0
    assert SCHEDULES["outages.voltage_monthly"].crontab == {"minute": "0", "hour": "2"}
