"""`gridcare import voltage FILE.csv`: every bad row reported as 第 N 行，列 X：原因, all-or-nothing, dry run writes
nothing, a good file imports and refreshes the monthly rate."""

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.outages.models import VoltageMonthly, VoltageReading
from gridcare.outages.voltage_import import voltage_import

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 9, 1, 12, tzinfo=CN)


def run(rows, **kw):
    return voltage_import(rows=rows, actor=Actor(), now=NOW, **kw)


def test_every_bad_row_is_reported_and_nothing_is_written(grid):
    VoltageReading.objects.create(
        transformer_area=grid.t1,
        hour=datetime(2025, 7, 1, 9, tzinfo=CN),
        nominal_v=D("220"),
        voltage_v=D("220"),
    )
    m_t3 = "M3100000300"  # the meter of account 3100000300, in T3
    rows = [
        ["台区编号", "表号", "时间", "标称电压", "电压"],
        ["T1", "", "2025-07-01 08:00", "220", "221.5"],  # 2: good
        ["TX", "", "2025-07-01 08:00", "220", "221"],  # 3: unknown area
        ["T1", "M9999", "2025-07-01 08:00", "220", "221"],  # 4: unknown meter
        ["T1", m_t3, "2025-07-01 08:00", "220", "221"],  # 5: meter of T3, not T1
        ["T1", "", "2025-07-01 08:30", "220", "221"],  # 6: not on the hour
        ["T1", "", "2025/07/01", "220", "221"],  # 7: unparseable
        ["T1", "", "2025-07-01 10:00", "0", "-1"],  # 8: both ≤ 0
        ["T1", "", "2025-07-01 11:00", "abc", "221.55"],  # 9: not a number, two decimals
        ["T1", "", "2025-07-01 08:00", "220", "222"],  # 10: duplicate of row 2
        ["T1", "", "2025-07-01 09:00", "220", "222"],  # 11: already in the database
        ["T1", "", "2025-09-01 13:00", "220", "222"],  # 12: after now
    ]
    result = run(rows)
    assert result["written"] is False and result["errors_total"] == 12
    got = [(e["row"], e["column"], e["message"]) for e in result["errors"]]
    assert got == [
        (3, "台区编号", "台区 TX 不存在"),
        (4, "表号", "电能表 M9999 不存在"),
        (5, "表号", f"电能表 {m_t3} 不在台区 T1"),
        (6, "时间", "时间须为整点（分钟和秒为 00）：2025-07-01 08:30"),
        (7, "时间", "时间格式应为 YYYY-MM-DD HH:MM（北京时间），例如 2025-07-01 20:00"),
        (8, "标称电压", "电压须大于 0"),
        (8, "电压", "电压须大于 0"),
        (9, "标称电压", "应为数值（伏），例如 220 或 231.5"),
        (9, "电压", "电压最多保留一位小数"),
        (10, "时间", "同一台区（或电能表）同一时间的电压在文件中重复：已出现在第 2 行"),
        (11, "时间", "该台区（或电能表）此时间的电压已导入过"),
        (12, "时间", "时间不能晚于当前时间"),
    ]
    assert VoltageReading.objects.count() == 1 and not VoltageMonthly.objects.exists()


def test_error_list_exact(grid):
    rows = [
        ["area_code", "hour", "nominal_v", "voltage_v"],
        ["T1", "2025-07-01 08:00", "220", "221"],
        ["T1", "2025-07-01 08:00", "220", "221"],
        ["T9", "2025-07-01 09:00", "220", "221"],
    ]
    result = run(rows)
    assert [(e["row"], e["column"]) for e in result["errors"]] == [(3, "hour"), (4, "area_code")]


def test_missing_header_column_is_a_row_1_error(grid):
    result = run([["area_code", "hour", "voltage_v"], ["T1", "2025-07-01 08:00", "221"]])
    assert result["errors"][0]["row"] == 1 and result["errors"][0]["column"] == "nominal_v"


def test_dry_run_writes_nothing(grid):
    rows = [["area_code", "hour", "nominal_v", "voltage_v"], ["T1", "2025-07-01 08:00", "220", "221"]]
    result = run(rows, dry_run=True)
    assert result["errors_total"] == 0 and result["readings"] == 1 and result["written"] is False
    assert not VoltageReading.objects.exists() and not VoltageMonthly.objects.exists()
    assert not AuditEvent.objects.filter(action="import.voltage").exists()


def test_good_file_imports_and_the_monthly_rate_is_right(grid):
    m1 = "M3100000300"
    rows = [
        ["area_code", "meter_asset_number", "hour", "nominal_v", "voltage_v"],
        ["T1", "", "2025-07-01 18:00", "220", "198.0"],  # ✓
        ["T1", "", "2025-07-01 19:00", "220", "235.4"],  # ✓
        ["T1", "", "2025-07-01 20:00", "220", "235.5"],  # ✗
        ["T1", "", "2025-07-01 22:00", "220", "197.9"],  # ✗  (21:00 missing)
        ["T3", m1, "2025-08-01 00:00", "220", "210"],  # ✓ August (China)
    ]
    result = run(rows)
    assert result["written"] and result["readings"] == 5 and result["months"] == ["2025-07-01", "2025-08-01"]
    t1 = VoltageMonthly.objects.get(transformer_area=grid.t1, month=date(2025, 7, 1))
    assert (t1.hours_read, t1.hours_ok) == (4, 2)  # 2/4 = 50 %
    t3 = VoltageMonthly.objects.get(transformer_area=grid.t3, month=date(2025, 8, 1))
    assert (t3.hours_read, t3.hours_ok) == (1, 1)
    assert VoltageReading.objects.get(transformer_area=grid.t3).meter.asset_number == m1
    assert AuditEvent.objects.filter(action="import.voltage").count() == 1


def test_a_user_without_meter_edit_is_refused_and_out_of_scope_areas_are_errors(grid):
    from gridcare.core.scoping import PermissionDenied

    rows = [["area_code", "hour", "nominal_v", "voltage_v"], ["T1", "2025-07-01 08:00", "220", "221"]]
    with pytest.raises(PermissionDenied):
        voltage_import(rows=rows, actor=Actor(user=grid.world.a_agent), now=NOW)
    from tests.factories import UserFactory

    b_reader = UserFactory(username="b_reader", role="meter_reader", unit=grid.world.bureau_b)
    result = voltage_import(rows=rows, actor=Actor(user=b_reader), now=NOW)
    assert result["errors"] == [{"row": 2, "column": "area_code", "message": "台区 T1 不在您的管辖范围内"}]


def test_cli_imports_and_reports_errors(grid, tmp_path, capsys):
    good = tmp_path / "v.csv"
    good.write_text(
        "台区编号,时间,标称电压,电压\nT1,2025-07-01 18:00,220,198.0\nT1,2025-07-01 19:00,220,240\n", "utf-8"
    )
    call_command("import", "voltage", str(good), "--dry-run", "--inline")
    assert not VoltageReading.objects.exists()
    call_command("import", "voltage", str(good), "--inline")
    row = VoltageMonthly.objects.get(transformer_area=grid.t1)
    assert (row.hours_read, row.hours_ok) == (2, 1)  # 240 > 235.4
    bad = tmp_path / "bad.csv"
    bad.write_text("台区编号,时间,标称电压,电压\nT1,2025-07-01 20:30,220,220\n", "utf-8")
    with pytest.raises(CommandError) as e:
        call_command("import", "voltage", str(bad), "--inline")
    assert "第 2 行，列 时间：时间须为整点（分钟和秒为 00）：2025-07-01 20:30" in str(e.value)
    assert VoltageReading.objects.count() == 2
