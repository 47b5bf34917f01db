"""`gridcare import outages FILE.csv`: historical outages frozen on the `grid` fixture, every bad cell reported as
第 N 行，列 X：原因, all or nothing, dry run writes nothing.

Grid (tests/outages/conftest.py): F1 → T1 (4 household accounts), T2 (3 accounts, one a dedicated 10 kV important
customer); F2 → T3 (2 accounts). All accounts opened 2020-01-01."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.importer import format_error
from gridcare.outages import importer
from gridcare.outages.choices import OutageSource, OutageStatus
from gridcare.outages.models import AffectedAccount, Interruption, OutageArea, OutageEvent, OutageScope
from tests.factories import UserFactory

CN = timezone(timedelta(hours=8))
HEADER = "outage_id,kind,cause_category,feeder_codes,area_codes,start,end,area_ends\n"
NOW = datetime(2026, 1, 1, tzinfo=CN)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CN)


def write(tmp_path, text: str, encoding="utf-8", name="outages.csv") -> str:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return str(p)


def run(text: str, *, dry_run=False, now=NOW) -> dict:
    return importer.import_outages_file(data=text.encode(), actor=Actor(), dry_run=dry_run, now=now)


def messages(result: dict) -> list[str]:
    return [format_error(e) for e in result["errors"]]


GOOD = HEADER + (
    # F1 fault 10:00–12:30, T1 back at 11:00.
    "O1,fault,equipment,F1,,2025-03-01 10:00,2025-03-01 12:30,T1:2025-03-01 11:00\n"
    # T3 planned 08:00–14:00.
    "O2,计划检修,检修,,T3,2025-04-02 08:00,2025-04-02 14:00,\n"
    # A fault on T3 during the planned outage: a different kind, not a duplicate. ISO with offset.
    "O3,故障停电,,,T3,2025-04-02T09:00:00+08:00,2025-04-02T09:03:00+08:00,\n"
)


def test_good_file_freezes_the_right_interruptions(grid, tmp_path, capsys):
    call_command("import", "outages", write(tmp_path, GOOD), "--inline")
    assert OutageEvent.objects.count() == 3
    o1 = OutageEvent.objects.get(number="O1")
    assert (o1.kind, o1.status, o1.source, o1.cause_category) == ("fault", "restored", "import", "equipment")
    assert o1.title == "故障停电（设备故障）"
    assert o1.unit_id == grid.world.station_a.pk  # F1's unit
    # Scope: the feeder only (its areas are covered by it).
    assert list(OutageScope.objects.filter(event=o1).values_list("feeder__code", "transformer_area")) == [
        ("F1", None)
    ]
    groups = {i.area.area_name: i for i in Interruption.objects.filter(event=o1).select_related("area")}
    t1, t2 = groups["东关1号台区"], groups["东关2号台区"]
    # T1: 4 customers, 10:00–11:00 = 3,600 s; T2: 3 customers, 10:00–12:30 = 9,000 s.
    assert (t1.customers, t1.duration_s, t1.end) == (4, 3600, at(2025, 3, 1, 11))
    assert (t2.customers, t2.duration_s, t2.end) == (3, 9000, at(2025, 3, 1, 12, 30))
    # MV users: T1 its public transformer (1); T2 public transformer + the dedicated 10 kV customer (2).
    assert (t1.mv_users, t2.mv_users) == (1, 2)
    assert (o1.customers, o1.mv_users) == (7, 3)
    assert (o1.actual_start, o1.actual_end) == (at(2025, 3, 1, 10), at(2025, 3, 1, 12, 30))
    assert OutageArea.objects.get(event=o1, area_name="东关1号台区").actual_end == at(2025, 3, 1, 11)
    # 4 × 1 h + 3 × 2.5 h = 11.5 customer-hours.
    assert o1.est_customer_hours == Decimal("11.50")
    assert AffectedAccount.objects.filter(event=o1).count() == 7
    assert AffectedAccount.objects.filter(event=o1, important=True, dedicated=True).count() == 1
    o2 = OutageEvent.objects.get(number="O2")
    assert (o2.kind, o2.cause_category, o2.customers) == ("planned", "maintenance", 2)
    # 2 customers × 6 h = 12 customer-hours.
    assert o2.est_customer_hours == Decimal("12.00")
    o3 = Interruption.objects.get(event__number="O3")
    assert (o3.customers, o3.duration_s) == (2, 180)  # 3 minutes: a momentary one
    assert OutageEvent.objects.get(number="O3").cause_category == "other"
    assert AuditEvent.objects.filter(action="import.outages").count() == 3
    out = capsys.readouterr().out
    # 7 + 2 + 2 = 11 customer interruptions; 11.5 + 12 + 2 × 0.05 = 23.6 customer-hours.
    assert "停电事件 3 个" in out and "11 户次" in out and "23.60 时户" in out


def test_chinese_header_and_gbk(grid, tmp_path):
    header = "停电编号,停电类型,原因分类,线路编号,台区编号,停电开始,恢复送电,分台区恢复\n"
    text = header + "O9,外部影响,外力破坏,F2,,2025-05-01 10:00,2025-05-01 11:00,\n"
    call_command("import", "outages", write(tmp_path, text, "gbk"), "--inline")
    e = OutageEvent.objects.get(number="O9")
    assert (e.kind, e.cause_category, e.customers) == ("external", "third_party", 2)


def test_dry_run_writes_nothing_and_reports(grid, tmp_path, capsys):
    result = run(GOOD, dry_run=True)
    assert result["errors"] == [] and result["written"] is False
    assert (result["events"], result["customers"], result["customer_hours"]) == (3, 11, "23.60")
    assert [o["customers"] for o in result["outages"]] == [7, 2, 2]
    call_command("import", "outages", write(tmp_path, GOOD), "--dry-run", "--inline")
    assert "3 rows OK" in capsys.readouterr().out
    assert OutageEvent.objects.count() == 0 and Interruption.objects.count() == 0
    assert AffectedAccount.objects.count() == 0 and not AuditEvent.objects.filter(action="import.outages")


def test_every_bad_cell_reported_and_nothing_written(grid, tmp_path):
    run("outage_id,kind,area_codes,start,end\nOLD,fault,T2,2024-06-01 10:00,2024-06-01 12:00\n")
    assert OutageEvent.objects.count() == 1
    text = HEADER + (
        "A1,fault,,F1,,2025-01-01 10:00,2025-01-01 11:00,\n"  # 2: fine on its own
        "A2,fault,,FX,TX,2025-01-02 10:00,2025-01-02 11:00,\n"  # 3: unknown feeder and area
        "A3,fault,,,T1,2025-01-03 10:00,2025-01-03 09:00,\n"  # 4: end before start
        "A4,fault,,F2,,2025-01-04 10:00,2025-01-04 12:00,T3:2025-01-04 13:00\n"  # 5: area end after end
        "A5,fault,,F2,,2025-01-05 10:00,2025-01-05 12:00,T1:2025-01-05 11:00\n"  # 6: area not in scope
        "A6,storm,,F2,,2025-01-06 10:00,2025-01-06 12:00,\n"  # 7: unknown kind
        "A7,fault,,F2,,,2025-01-07 12:00,\n"  # 8: missing start
        "A1,fault,,F2,,2025-01-08 10:00,2025-01-08 12:00,\n"  # 9: outage_id repeated in the file
        "OLD,fault,,F2,,2025-01-09 10:00,2025-01-09 12:00,\n"  # 10: outage_id in the database
        "A8,fault,,,T2,2025-01-01 10:30,2025-01-01 10:45,\n"  # 11: same kind, T2 ⊂ F1, overlaps row 2
        "A9,fault,,F1,,2024-06-01 11:00,2024-06-01 13:00,\n"  # 12: overlaps stored OLD on T2
        "A10,fault,,,,2025-01-10 10:00,2025-01-10 11:00,\n"  # 13: no scope
        "A11,fault,weird,F2,,2025-01-11 10:00,2025-01-11 11:00,\n"  # 14: unknown cause
        "A12,fault,,F2,,2025-01-12 10:00,2026-02-01 11:00,\n"  # 15: not yet restored (after now)
        "A13,fault,,F2,,2025-01-13 10:00,2025-01-13 11:00,T3:2025-01-13 10:00\n"  # 16: fine: area end = start
    )
    expected = [
        "第 3 行，列 feeder_codes：线路编号不存在：FX",
        "第 3 行，列 area_codes：台区编号不存在：TX",
        "第 4 行，列 end：恢复送电时间须晚于停电开始时间",
        "第 5 行，列 area_ends：台区 T3 的恢复时间须在停电开始与恢复送电之间",
        "第 6 行，列 area_ends：台区 T1 不在本次停电范围内",
        "第 8 行，列 start：必填",
        "第 9 行，列 outage_id：停电编号在文件中重复：已出现在第 2 行",
        "第 10 行，列 outage_id：停电编号 OLD 已存在",
        "第 11 行，列 area_codes：与第 2 行（停电编号 A1）重复：停电类型相同、停电范围重叠且时间重叠",
        "第 12 行，列 feeder_codes：与已有停电事件 OLD 重复：停电类型相同、停电范围重叠且时间重叠",
        "第 13 行，列 feeder_codes：线路编号和台区编号至少填写一个",
        "第 14 行，列 cause_category：原因分类无效：应为 maintenance/construction/equipment/weather/typhoon/"
        "lightning/tree/animal/third_party/customer/upstream/generation/other",
        "第 15 行，列 end：恢复送电时间不能晚于当前时间：只能导入已送电的停电",
    ]
    result = run(text)
    got = messages(result)
    for line in expected:
        assert line in got
    assert any(m.startswith("第 7 行，列 kind：停电类型无效") for m in got)
    assert not any(m.startswith(("第 2 行", "第 16 行")) for m in got)
    assert len(got) == len(expected) + 1
    # All or nothing, through the CLI as well.
    with pytest.raises(CommandError) as e:
        call_command("import", "outages", write(tmp_path, text), "--inline")
    assert "第 4 行，列 end：恢复送电时间须晚于停电开始时间" in str(e.value)
    assert list(OutageEvent.objects.values_list("number", flat=True)) == ["OLD"]
    assert Interruption.objects.count() == 1


def test_duplicate_column_named_as_headed_in_chinese(grid):
    header = "停电编号,停电类型,线路编号,台区编号,停电开始,恢复送电\n"
    text = header + (
        "B1,限电,F2,,2025-07-01 10:00,2025-07-01 12:00\n"
        "B2,shortage,,T3,2025-07-01 11:59,2025-07-01 13:00\n"  # overlaps row 2 by one minute on T3
        "B3,shortage,,T3,2025-07-01 12:00,2025-07-01 13:00\n"  # [12:00, …) touches row 2's end: no overlap
    )
    got = messages(run(text))
    assert got == ["第 3 行，列 台区编号：与第 2 行（停电编号 B1）重复：停电类型相同、停电范围重叠且时间重叠"]


def test_cancelled_stored_event_is_not_a_duplicate(grid):
    run("outage_id,kind,area_codes,start,end\nC1,fault,T3,2025-02-01 10:00,2025-02-01 12:00\n")
    OutageEvent.objects.filter(number="C1").update(status=OutageStatus.CANCELLED)
    result = run("outage_id,kind,area_codes,start,end\nC2,fault,T3,2025-02-01 11:00,2025-02-01 12:00\n")
    assert result["errors"] == [] and OutageEvent.objects.filter(source=OutageSource.IMPORT).count() == 2


def test_header_errors(grid, tmp_path):
    with pytest.raises(CommandError) as e:
        call_command("import", "outages", write(tmp_path, "outage_id,kind,start\nX,fault,2025-01-01 10:00\n"))
    msg = str(e.value)
    assert "end" in msg and "feeder_codes" in msg and OutageEvent.objects.count() == 0


def test_user_outside_scope_refused(grid):
    b_dispatcher = UserFactory(username="b_disp", role=Role.DISPATCHER, unit=grid.world.bureau_b)
    text = "outage_id,kind,feeder_codes,start,end\nD1,fault,F1,2025-01-01 10:00,2025-01-01 11:00\n"
    result = importer.import_outages_file(data=text.encode(), actor=Actor(user=b_dispatcher), now=NOW)
    assert messages(result) == ["第 2 行，列 feeder_codes：不在您的管辖范围内：F1"]
    with pytest.raises(importer.PermissionDenied):
        importer.import_outages_file(data=text.encode(), actor=Actor(user=grid.world.a_clerk), now=NOW)
