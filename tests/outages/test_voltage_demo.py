"""Demo voltage data: hourly rows for the last three months per area, monthly rates before, a rural area sagging
on summer evenings below target, and a month's stored rate equal to a hand count of its readings."""

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from gridcare.customers.models import TransformerArea
from gridcare.outages.demo_voltage import demo_voltage, hourly_start
from gridcare.outages.models import VoltageMonthly, VoltageReading
from gridcare.outages.voltage import voltage_below_target

CN = ZoneInfo("Asia/Shanghai")
TODAY = date(2025, 9, 15)


def test_demo_voltage_rows_per_area_and_a_hand_counted_month(grid):
    areas = TransformerArea.objects.count()  # T1, T2, T3 + world's two
    n = demo_voltage(today=TODAY, hourly_rows_max=0)  # the fallback for large topologies
    # hourly from 2025-07-01 (first of the month two before September) to 09-15 00:00: 31 + 31 + 14 = 76 days
    assert hourly_start(TODAY) == date(2025, 7, 1)
    assert n == areas * 76 * 24
    assert VoltageReading.objects.filter(transformer_area=grid.t1).count() == 76 * 24
    # July of T1 by hand: every reading of the month checked against 198.0..235.4
    start, end = datetime(2025, 7, 1, tzinfo=CN), datetime(2025, 8, 1, tzinfo=CN)
    july = list(
        VoltageReading.objects.filter(transformer_area=grid.t1, hour__gte=start, hour__lt=end).values_list(
            "voltage_v", flat=True
        )
    )
    ok = sum(1 for v in july if D("198.0") <= v <= D("235.4"))
    row = VoltageMonthly.objects.get(transformer_area=grid.t1, month=date(2025, 7, 1))
    assert (row.hours_read, row.hours_ok) == (31 * 24, ok) == (len(july), ok)
    # the months before July are monthly rows only: 2024-09-15 .. 2025-06-30, the first month from the 15th
    first = VoltageMonthly.objects.get(transformer_area=grid.t1, month=date(2024, 9, 1))
    assert first.hours_read == 16 * 24  # 15..30 September
    assert VoltageMonthly.objects.filter(transformer_area=grid.t1).count() == 13  # 2024-09 .. 2025-09
    # T3 is the only rural area: it sags on July evenings (5 h × 31 days = 155 hours, most below 198 V)
    below = voltage_below_target(grid.world.admin, unit_id=grid.world.company.pk, month=date(2025, 7, 1))
    assert [r["area_code"] for r in below] == ["T3"]
    # running it again replaces, never doubles
    assert demo_voltage(today=TODAY, hourly_rows_max=0) == n and VoltageReading.objects.count() == n


def test_a_month_end_and_a_leap_day_today(grid):
    areas = list(TransformerArea.objects.filter(pk=grid.t1.pk))
    # 2024-02-29: hourly from 2023-12-01 to 02-29 00:00 = 31 + 31 + 28 = 90 days
    assert demo_voltage(today=date(2024, 2, 29), areas=areas, hourly_rows_max=0) == 90 * 24
    assert hourly_start(date(2025, 12, 31)) == date(2025, 10, 1)
    total = sum(VoltageMonthly.objects.filter(transformer_area=grid.t1).values_list("hours_read", flat=True))
    assert total == 365 * 24  # the 365 days before the leap day, every hour read once
    assert VoltageReading.objects.latest("hour").hour == datetime(
        2024, 2, 28, 23, tzinfo=CN
    )  # last hour before today


def test_a_small_topology_gets_a_whole_year_of_hourly_readings(grid):
    areas = TransformerArea.objects.count()
    # 365 days before 2025-09-15: 2024-09-15 00:00 .. 2025-09-14 23:00, every hour of every area
    assert hourly_start(TODAY, areas) == date(2024, 9, 15)
    assert demo_voltage(today=TODAY) == areas * 365 * 24
    first = VoltageMonthly.objects.get(transformer_area=grid.t1, month=date(2024, 9, 1))
    assert first.hours_read == 16 * 24  # 15..30 September, now from hourly readings
    assert (
        VoltageReading.objects.filter(
            transformer_area=grid.t1, hour__lt=datetime(2024, 10, 1, tzinfo=CN)
        ).count()
        == 16 * 24
    )
