"""Bulk customer import: `gridcare import customers FILE.csv` and the console page /import/.

Given a CSV file (GBK, UTF-8 with BOM or plain UTF-8), when it is imported, then either every row is
written (customers, accounts, premises, service points, meters, holdings, audit rows) or, if any row is
bad, nothing is and every bad cell is reported as (row as in the file, column, reason).
"""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers import importer
from gridcare.customers.models import Account, AccountHolding, Customer, Meter, Premise, ServicePoint

from ..factories import FeederFactory, UserFactory, valid_id_number, valid_uscc

EN = [c.key for c in importer.COLUMNS]
ZH = [c.label for c in importer.COLUMNS]
MODELS = (Customer, Account, AccountHolding, Premise, ServicePoint, Meter, AuditEvent)


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def person(seq: int) -> str:
    """A valid resident ID no world fixture customer has (different region and birth date)."""
    return valid_id_number(seq, birth="19900101", region="320102")


def good_row(w, n: int, **overrides) -> dict[str, str]:
    row = {
        "account_number": f"33000000{n:02d}",
        "customer_name": f"王{n}",
        "customer_kind": "person",
        "customer_class": "residential",
        "segment": "household",
        "id_number": person(n),
        "phone": f"1360000{n:04d}",
        "phone2": "",
        "email": "",
        "unit_code": "010101",
        "address": f"东关镇建设路{n}号",
        "transformer_area_code": w.area_a.code,
        "feeder_code": "",
        "voltage_level": "220V",
        "contract_capacity_kva": "8",
        "tariff_code": "RES-TIER",
        "meter_asset_number": f"E100{n:04d}",
        "meter_digits": "6",
        "meter_multiplier": "1",
        "meter_tou": "0",
        "opened_on": "2024-03-05",
    }
    row.update(overrides)
    return row


def write_csv(tmp_path, rows, *, header=None, encoding="utf-8", name="customers.csv"):
    """Rows are dicts by column key; `header` gives the header texts, in EN key order unless told otherwise."""
    header = header or EN
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(header)
    for r in rows:
        out.writerow([r.get(key, "") for key in EN[: len(header)]])
    path = tmp_path / name
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command("import", "customers", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def import_error(*args) -> str:
    with pytest.raises(CommandError) as exc:
        run(*args)
    return str(exc.value)


# --------------------------------------------------------------------------------------------------------
# Good files


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_good_file_writes_every_entity(world, tmp_path, encoding):
    w = world
    org_id = valid_uscc(4242)
    rows = [
        # One person with two accounts (same ID number and name), Chinese values as Excel users type them.
        good_row(w, 1, customer_kind="个人", customer_class="居民生活", segment="居民", opened_on="2024/3/5"),
        good_row(w, 2, customer_name="王1", id_number=person(1), address="东关镇建设路2号", opened_on=""),
        # An organisation in the other station, with its feeder, a TOU meter and a 0.4kV (=380V) service.
        good_row(
            w,
            3,
            customer_name="西关食品有限公司",
            customer_kind="单位",
            customer_class="一般工商业",
            segment="中小客户",
            id_number=org_id,
            phone="0571-88886666",
            email="ops@xg-food.cn",
            unit_code="010201",
            transformer_area_code=w.area_b.code,
            feeder_code=w.area_b.feeder.code,
            voltage_level="0.4kV",
            contract_capacity_kva="250.5",
            tariff_code="BIZ-TOU",
            meter_digits="8",
            meter_multiplier="40",
            meter_tou="是",
        ),
    ]
    path = write_csv(tmp_path, rows, header=ZH if encoding == "gbk" else EN, encoding=encoding)
    before = counts()

    out = run(path)

    assert "导入完成" in out and "新建客户 2 个" in out and "新建户号 3 个" in out
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {
        "Customer": 2, "Account": 3, "AccountHolding": 3, "Premise": 3, "ServicePoint": 3, "Meter": 3,
        "AuditEvent": 3 + 1,  # one per account, one summary
    }  # fmt: skip

    wang = Customer.objects.get(id_number=person(1))
    customer_fields = ("name", "kind", "customer_class", "segment", "phone", "email", "unit_id")
    assert Customer.objects.values(*customer_fields).get(pk=wang.pk) == {
        "name": "王1", "kind": "person", "customer_class": "residential", "segment": "household",
        "phone": "13600000001", "email": "", "unit_id": w.station_a.pk,
    }  # fmt: skip
    assert sorted(wang.accounts.values_list("account_number", flat=True)) == ["3300000001", "3300000002"]
    assert Account.objects.values("opened_on", "status", "unit_id").get(account_number="3300000001") == {
        "opened_on": date(2024, 3, 5), "status": "active", "unit_id": w.station_a.pk,
    }  # fmt: skip
    premise = Premise.objects.get(accounts__account_number="3300000001")
    assert (premise.address, premise.transformer_area_id, premise.unit_id) == (
        "东关镇建设路1号",
        w.area_a.pk,
        w.station_a.pk,
    )
    assert Account.objects.get(account_number="3300000002").opened_on == timezone.localdate()

    org = Customer.objects.get(id_number=org_id)
    assert Customer.objects.values(*customer_fields).get(pk=org.pk) == {
        "name": "西关食品有限公司", "kind": "organisation", "customer_class": "commercial", "segment": "sme",
        "phone": "0571-88886666", "email": "ops@xg-food.cn", "unit_id": w.station_b.pk,
    }  # fmt: skip
    sp = ServicePoint.objects.get(account__account_number="3300000003")
    assert ServicePoint.objects.values(
        "voltage_level", "contract_capacity_kva", "tariff_code", "transformer_area_id", "unit_id"
    ).get(pk=sp.pk) == {
        "voltage_level": "380V", "contract_capacity_kva": Decimal("250.5"), "tariff_code": "BIZ-TOU",
        "transformer_area_id": w.area_b.pk, "unit_id": w.station_b.pk,
    }  # fmt: skip
    assert Meter.objects.values(
        "service_point_id", "digits", "multiplier", "has_tou", "installed_on", "unit_id"
    ).get(asset_number="E1000003") == {
        "service_point_id": sp.pk, "digits": 8, "multiplier": 40, "has_tou": True,
        "installed_on": date(2024, 3, 5), "unit_id": w.station_b.pk,
    }  # fmt: skip
    assert Meter.objects.get(asset_number="E1000001").has_tou is False

    holdings = AccountHolding.objects.filter(account__account_number__startswith="33")
    assert sorted(
        holdings.values_list("account__account_number", "customer_id", "valid_from", "valid_to", "reason")
    ) == [
        ("3300000001", wang.pk, date(2024, 3, 5), None, "move_in"),
        ("3300000002", wang.pk, timezone.localdate(), None, "move_in"),
        ("3300000003", org.pk, date(2024, 3, 5), None, "move_in"),
    ]

    events = AuditEvent.objects.filter(action="customer.import")
    assert set(events.values_list("channel", "actor_id", "actor_label").distinct()) == {
        (Channel.IMPORT, None, "import")
    }
    by_account = {
        e.changes["after"]["account_number"]: e for e in events.filter(object_type="customers.account")
    }
    assert set(by_account) == {"3300000001", "3300000002", "3300000003"}
    assert (by_account["3300000003"].customer_id, by_account["3300000003"].unit_id) == (
        org.pk,
        w.station_b.pk,
    )
    assert by_account["3300000003"].object_id == str(Account.objects.get(account_number="3300000003").pk)
    # The row that created a customer carries its snapshot; the second account of 王1 does not.
    assert by_account["3300000001"].changes["customer_created"]["id_number"] == person(1)
    assert by_account["3300000003"].changes["customer_created"]["name"] == "西关食品有限公司"
    assert "customer_created" not in by_account["3300000002"].changes
    assert by_account["3300000002"].customer_id == wang.pk
    summary = AuditEvent.objects.get(action="import.customers")
    assert summary.channel == Channel.IMPORT
    assert {
        k: summary.changes[k] for k in ("rows", "customers_created", "customers_attached", "accounts_created")
    } == {
        "rows": 3,
        "customers_created": 2,
        "customers_attached": 0,
        "accounts_created": 3,
    }


def test_existing_id_number_attaches_the_account_to_that_customer(world, tmp_path):
    w = world
    path = write_csv(tmp_path, [good_row(w, 1, customer_name="张三", id_number=w.cust_a.id_number)])

    out = run(path)

    assert "新建客户 0 个" in out and "沿用已有客户 1 个" in out
    assert sorted(w.cust_a.accounts.values_list("account_number", flat=True)) == ["3100000001", "3300000001"]
    assert AccountHolding.objects.get(account__account_number="3300000001").customer_id == w.cust_a.pk
    event = AuditEvent.objects.get(action="customer.import")
    assert (event.object_type, event.customer_id) == ("customers.account", w.cust_a.pk)


def test_existing_id_number_with_another_name_is_an_error(world, tmp_path):
    w = world
    path = write_csv(tmp_path, [good_row(w, 1, customer_name="张三丰", id_number=w.cust_a.id_number)])
    before = counts()

    message = import_error(path)

    assert "第 2 行，列 customer_name：证件号码已登记在系统中另一名称的客户名下" in message
    assert counts() == before


def test_dry_run_of_a_good_file_reports_rows_ok_and_writes_nothing(world, tmp_path):
    w = world
    path = write_csv(tmp_path, [good_row(w, n) for n in range(1, 6)])
    before = counts()

    out = run(path, "--dry-run")

    assert "5 rows OK" in out and "将新建客户 5 个" in out
    assert counts() == before


def test_unit_option_fills_a_missing_unit_column_and_narrows_the_scope(world, tmp_path):
    w = world
    header = [k for k in EN if k != "unit_code"]
    rows = [good_row(w, 1), good_row(w, 2, transformer_area_code=w.area_b.code)]
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(header)
    out.writerows([[r[k] for k in header] for r in rows])
    path = tmp_path / "no-unit.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")

    message = import_error(path, "--unit", "010101")

    assert f"第 3 行，列 transformer_area_code：台区 {w.area_b.code} 不属于供电单位 010101" in message
    assert "第 2 行" not in message
    assert "不存在或不在您的管辖范围内" in import_error(path, "--unit", "999999")


def test_user_option_attributes_the_import_and_applies_that_users_scope(world, tmp_path):
    w = world
    bureau_admin = UserFactory(username="a_admin", role=Role.ADMIN, unit=w.bureau_a)
    good = write_csv(tmp_path, [good_row(w, 1)], name="good.csv")
    other_unit = write_csv(
        tmp_path, [good_row(w, 2, unit_code="010201", transformer_area_code=w.area_b.code)], name="other.csv"
    )

    assert "第 2 行，列 unit_code：供电单位不在您的管辖范围内" in import_error(
        other_unit, "--user", "a_admin"
    )
    assert "没有批量导入权限" in import_error(good, "--user", "a_clerk")
    assert "不存在或已停用" in import_error(good, "--user", "nobody")
    assert not Account.objects.filter(account_number__startswith="33").exists()

    run(good, "--user", "a_admin")
    summary = AuditEvent.objects.get(action="import.customers")
    assert (summary.actor_id, summary.actor_label, summary.unit_id) == (
        bureau_admin.pk,
        "a_admin",
        w.bureau_a.pk,
    )
    assert set(AuditEvent.objects.filter(action="customer.import").values_list("actor_id", flat=True)) == {
        bureau_admin.pk
    }


# --------------------------------------------------------------------------------------------------------
# Bad rows: every one is listed, nothing is written


def test_dry_run_lists_each_bad_row_with_row_column_reason_and_writes_nothing(world, tmp_path):
    w = world
    # fmt: off
    rows = [
        good_row(w, 1),                                                       # row 2: fine
        good_row(w, 2, account_number="33000002"),                            # row 3: 户号 not 10 digits
        good_row(w, 3, account_number="3100000001"),                          # row 4: 户号 already in DB
        good_row(w, 4, account_number="3300000001"),                          # row 5: 户号 twice in the file
        good_row(w, 5, phone="1234567"),                                      # row 6
        good_row(w, 6, unit_code="999999"),                                   # row 7
        good_row(w, 7, transformer_area_code="NOSUCH"),                       # row 8
        good_row(w, 8, customer_class="路灯", segment="VIP"),                  # row 9: two bad cells
        good_row(w, 9, voltage_level="500kV"),                                # row 10
        good_row(w, 10, contract_capacity_kva="八千", meter_multiplier="x2"),  # row 11
        good_row(w, 11, opened_on="2024-02-30"),                              # row 12
        good_row(w, 12, customer_kind="公司"),                                # row 13
        good_row(w, 13, meter_asset_number="M3100000001"),                    # row 14: meter already in DB
        good_row(w, 14, meter_asset_number="E1000001"),                       # row 15: meter twice in file
        good_row(w, 15, feeder_code=FeederFactory(unit=w.station_a).code),    # row 16: not the area's feeder
        good_row(w, 16, transformer_area_code=w.area_b.code),                 # row 17: area of another unit
        good_row(w, 17, customer_name="王十七", id_number=person(1)),           # row 18: same ID, other name
        good_row(w, 18, meter_tou="maybe", address=""),                       # row 19
        good_row(w, 19, id_number="3.20102E+17"),                             # row 20: Excel mangled it
    ]
    # fmt: on
    path = write_csv(tmp_path, rows)
    before = counts()

    message = import_error(path, "--dry-run")

    expected = [
        (3, "account_number", "户号格式错误：应为10位数字"),
        (4, "account_number", "户号 3100000001 已存在"),
        (5, "account_number", "户号 3300000001 在文件中重复：已出现在第 2 行"),
        (6, "phone", "电话号码无效"),
        (7, "unit_code", "供电单位编码 999999 不存在"),
        (8, "transformer_area_code", "台区 NOSUCH 不存在"),
        (9, "customer_class", "用电类别无效"),
        (9, "segment", "客户分群无效"),
        (10, "voltage_level", "电压等级无效：应为 220V/380V/10kV/35kV/110kV"),
        (11, "contract_capacity_kva", "合同容量必须是数字"),
        (11, "meter_multiplier", "倍率必须是正整数"),
        (12, "opened_on", "日期无效"),
        (13, "customer_kind", "客户类型无效"),
        (14, "meter_asset_number", "资产编号 M3100000001 已存在"),
        (15, "meter_asset_number", "资产编号 E1000001 在文件中重复：已出现在第 2 行"),
        (16, "feeder_code", "与本列不一致"),
        (17, "transformer_area_code", f"台区 {w.area_b.code} 不属于供电单位 010101"),
        (18, "customer_name", "与第 2 行证件号码相同，但客户名称不一致"),
        (19, "address", "必填，不能为空"),
        (19, "meter_tou", "分时计量应为 1/0 或 是/否"),
        (20, "id_number", "科学计数法"),
    ]
    lines = message.splitlines()
    assert f"有 {len(expected)} 处错误，未写入任何数据" in lines[0]
    for row, column, reason in expected:
        prefix = f"第 {row} 行，列 {column}："
        assert any(line.startswith(prefix) and reason in line for line in lines), (
            row,
            column,
            reason,
            message,
        )
    assert len(lines) == 1 + len(expected)
    assert not any(line.startswith("第 2 行") for line in lines)
    assert counts() == before


def test_one_bad_row_among_good_ones_writes_nothing(world, tmp_path):
    w = world
    rows = [good_row(w, n) for n in range(1, 30)]
    rows[20]["phone"] = "02-123"
    path = write_csv(tmp_path, rows)
    before = counts()

    message = import_error(path)

    assert "第 22 行，列 phone：电话号码无效" in message
    assert counts() == before


def test_a_database_error_midway_rolls_back_everything(world, tmp_path, monkeypatch):
    """Another writer takes an asset number between validation and write: the meter insert fails last."""
    w = world
    rows = [good_row(w, n) for n in range(1, 6)]
    path = write_csv(tmp_path, rows)
    real_run = importer._Validator.run

    def run_then_race(self, text):
        plan = real_run(self, text)
        Meter.objects.create(asset_number="E1000005", unit=w.station_a, installed_on=date(2024, 1, 1))
        return plan

    monkeypatch.setattr(importer._Validator, "run", run_then_race)
    before = counts()

    message = import_error(path)

    assert "未写入任何数据" in message
    assert counts() == {**before, "Meter": before["Meter"] + 1}  # only the racing writer's meter
    assert not Customer.objects.filter(id_number=person(1)).exists()
    assert not Premise.objects.filter(address__startswith="东关镇建设路").exists()


def test_duplicate_account_number_in_the_file(world, tmp_path):
    w = world
    rows = [
        good_row(w, 1, phone="bad"),
        good_row(w, 2),
        good_row(w, 3, account_number="3300000002"),
        good_row(w, 4, account_number="3300000001"),  # repeats a row that is itself bad
    ]
    path = write_csv(tmp_path, rows)

    message = import_error(path)

    assert "第 4 行，列 account_number：户号 3300000002 在文件中重复：已出现在第 3 行" in message
    assert "第 5 行，列 account_number：户号 3300000001 在文件中重复：已出现在第 2 行" in message
    assert "第 3 行，列 account_number" not in message
    assert not Account.objects.filter(account_number__startswith="33").exists()


def test_duplicate_account_number_already_in_the_database(world, tmp_path):
    w = world
    path = write_csv(
        tmp_path, [good_row(w, 1, account_number=w.acct_b.account_number)], header=ZH, encoding="gbk"
    )

    message = import_error(path)

    # The column is named as headed in the file.
    assert "第 2 行，列 户号：户号 3200000001 已存在" in message
    assert Account.objects.get(account_number="3200000001").customer_id == w.cust_b.pk


def test_id_number_with_a_wrong_check_digit(world, tmp_path):
    w = world
    first17 = "11010519491231002"
    # GB 11643-1999: sum of digit × weight, mod 11, indexes "10X98765432".
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * wt for d, wt in zip(first17, weights, strict=True))
    assert total == 167 and total % 11 == 2
    check = "10X98765432"[total % 11]
    assert check == "X"
    wrong = first17 + "1"
    path = write_csv(
        tmp_path, [good_row(w, 1, id_number=first17 + check.lower()), good_row(w, 2, id_number=wrong)]
    )

    message = import_error(path)

    assert "第 3 行，列 id_number：身份证号校验位错误" in message
    assert "第 2 行" not in message  # the lower-case x is the same check character
    assert not Customer.objects.filter(id_number__startswith=first17).exists()


def test_invalid_phone(world, tmp_path):
    w = world
    path = write_csv(tmp_path, [good_row(w, 1, phone="12345678901")])

    assert "第 2 行，列 phone：电话号码无效：需为11位手机号或带区号的固定电话" in import_error(path)
    assert not Customer.objects.filter(id_number=person(1)).exists()


def test_unknown_unit_and_unknown_area(world, tmp_path):
    w = world
    path = write_csv(
        tmp_path,
        [good_row(w, 1, unit_code="019999"), good_row(w, 2, transformer_area_code="T99999")],
        header=ZH,
        encoding="utf-8-sig",
    )

    message = import_error(path)

    assert "第 2 行，列 供电单位编码：供电单位编码 019999 不存在" in message
    assert "第 3 行，列 台区编号：台区 T99999 不存在" in message
    assert not Account.objects.filter(account_number__startswith="33").exists()


# --------------------------------------------------------------------------------------------------------
# Bad files


def test_oversized_file_is_refused(world, tmp_path, settings):
    w = world
    settings.GRIDCARE = {**settings.GRIDCARE, "IMPORT_MAX_BYTES": 300}
    path = write_csv(tmp_path, [good_row(w, n) for n in range(1, 4)])
    assert path.stat().st_size > 300
    before = counts()

    message = import_error(path)

    assert "文件过大" in message and "上限为 300 B" in message
    assert counts() == before


def test_undecodable_bytes_are_refused(world, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(",".join(EN).encode() + b"\r\n3300000001,\xff\xfe\x80\x80,person\r\n")

    message = import_error(path)

    assert "文件编码无法识别" in message and "UTF-8 或 GBK" in message


def test_an_excel_workbook_instead_of_csv_is_refused(world, tmp_path):
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x14\x00\x06\x00" * 20)

    assert "不是 CSV 文件" in import_error(path)


def test_missing_required_column_header(world, tmp_path):
    w = world
    header = [k for k in EN if k != "phone"] + ["备注"]
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(header)
    out.writerow([good_row(w, 1).get(k, "") for k in header])
    path = tmp_path / "no-phone.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")

    message = import_error(path, "--dry-run")

    assert "第 1 行，列 phone：缺少必填列（表头可写 phone 或 联系电话）" in message
    assert "第 1 行，列 备注：无法识别的列名" in message
    assert not Customer.objects.filter(id_number=person(1)).exists()


def test_header_only_and_empty_files(world, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(ZH) + "\n", encoding="utf-8-sig")

    assert "文件为空" in import_error(empty)
    assert "没有数据行" in import_error(header_only)


def test_missing_file(world, tmp_path):
    assert "无法读取文件" in import_error(tmp_path / "nope.csv")


def test_import_is_set_based(world, tmp_path, django_assert_max_num_queries):
    """Validation and write take a bounded number of queries, not a few per row."""
    w = world
    path = write_csv(
        tmp_path, [good_row(w, n, customer_name=f"王{n}", id_number=person(n)) for n in range(1, 100)]
    )
    data = path.read_bytes()
    from gridcare.core.audit import Actor

    with django_assert_max_num_queries(40):
        result = importer.import_customers(data=data, actor=Actor(channel=Channel.IMPORT))

    assert result.ok and result.accounts_created == 99
    assert Account.objects.filter(account_number__startswith="33").count() == 99
    counted = Customer.objects.filter(id_number__startswith="320102").annotate(n=Count("accounts"))
    assert {c.n for c in counted} == {1}


# --------------------------------------------------------------------------------------------------------
# The console page


def upload(client, path, *, dry_run: bool):
    with open(path, "rb") as fh:
        data = {"file": fh}
        if dry_run:
            data["dry_run"] = "on"
        resp = client.post(reverse("console:import"), data)
    if resp.status_code == 302 and "?job=" in resp["Location"]:
        return client.get(resp["Location"])  # the import ran as a job (in-process in tests); its result page
    return resp


@pytest.mark.parametrize("who", ["anonymous", "portal_user", "a_clerk", "a_manager"])
def test_page_refuses_users_without_the_import_permission(world, tmp_path, client, who):
    w = world
    path = write_csv(tmp_path, [good_row(w, 1)])
    if who != "anonymous":
        client.force_login(getattr(w, who))
    before = counts()

    get = client.get(reverse("console:import"))
    post = upload(client, path, dry_run=False)

    if who == "anonymous":
        for resp in (get, post):
            assert resp.status_code == 302
            assert resp["Location"].startswith(reverse("console:login")) and "next=" in resp["Location"]
    else:
        assert (get.status_code, post.status_code) == (404, 404)
    assert counts() == before


def test_page_imports_for_the_admin(world, tmp_path, client):
    w = world
    client.force_login(w.admin)
    assert client.get(reverse("console:import")).status_code == 200
    path = write_csv(tmp_path, [good_row(w, 1), good_row(w, 2)], header=ZH, encoding="gbk")
    before = counts()

    resp = upload(client, path, dry_run=False)

    assert resp.status_code == 200
    page = resp.content.decode()
    assert 'data-testid="import-summary"' in page and "导入完成" in page
    assert "新建客户 2 个" in page and "新建户号 2 个" in page
    after = counts()
    assert after["Account"] - before["Account"] == 2 and after["Meter"] - before["Meter"] == 2
    summary = AuditEvent.objects.get(action="import.customers")
    assert (summary.actor_id, summary.channel, summary.changes["file"]) == (
        w.admin.pk,
        Channel.IMPORT,
        "customers.csv",
    )
    assert summary.ip == "127.0.0.1"
    assert set(AuditEvent.objects.filter(action="customer.import").values_list("actor_id", flat=True)) == {
        w.admin.pk
    }


def test_page_dry_run_shows_the_error_table_and_writes_nothing(world, tmp_path, client):
    w = world
    client.force_login(w.admin)
    path = write_csv(
        tmp_path, [good_row(w, 1), good_row(w, 2, phone="110"), good_row(w, 3, unit_code="999999")]
    )
    before = counts()

    resp = upload(client, path, dry_run=True)

    assert resp.status_code == 200
    page = resp.content.decode()
    assert 'data-testid="import-errors"' in page
    assert "<th>行号</th><th>列</th><th>原因</th>" in page
    assert "<td>3</td><td>phone</td><td>电话号码无效" in page
    assert "<td>4</td><td>unit_code</td><td>供电单位编码 999999 不存在</td>" in page
    assert "共 3 行，发现 2 处错误，未写入任何数据" in page
    assert counts() == before


def test_page_dry_run_of_a_good_file_shows_the_summary_and_writes_nothing(world, tmp_path, client):
    w = world
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1), good_row(w, 2)], encoding="utf-8-sig")
    before = counts()

    resp = upload(client, path, dry_run=True)

    page = resp.content.decode()
    assert "校验通过：2 行均无错误，尚未写入" in page and "将新建客户 2 个" in page
    assert counts() == before


def test_page_scopes_rows_to_the_users_units(world, tmp_path, client):
    w = world
    client.force_login(UserFactory(username="b_admin", role=Role.ADMIN, unit=w.bureau_b))
    path = write_csv(tmp_path, [good_row(w, 1)])
    before = counts()

    page = upload(client, path, dry_run=False).content.decode()

    assert "<td>2</td><td>unit_code</td><td>供电单位不在您的管辖范围内</td>" in page
    assert counts() == before


def test_page_refuses_oversized_and_undecodable_files(world, tmp_path, client, settings):
    w = world
    client.force_login(w.admin)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"account_number\r\n\xff\xff\xff\r\n")

    resp = upload(client, bad, dry_run=True)

    assert resp.status_code == 400 and "文件编码无法识别" in resp.content.decode()
    settings.GRIDCARE = {**settings.GRIDCARE, "IMPORT_MAX_BYTES": 100}
    big = write_csv(tmp_path, [good_row(w, n) for n in range(1, 4)])
    before = counts()

    resp = upload(client, big, dry_run=False)

    assert resp.status_code == 400 and "文件过大" in resp.content.decode()
    assert client.post(reverse("console:import"), {"dry_run": "on"}).status_code == 400  # no file at all
    assert counts() == before


def test_page_post_needs_a_csrf_token(world, tmp_path):
    w = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.admin)
    path = write_csv(tmp_path, [good_row(w, 1)])
    before = counts()

    assert upload(client, path, dry_run=False).status_code == 403
    assert counts() == before


def test_page_offers_a_blank_template(world, client):
    client.force_login(world.admin)

    resp = client.get(reverse("console:import") + "?template=csv")

    assert resp["Content-Type"].startswith("text/csv")
    header = resp.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == ZH


def test_template_header_round_trips(world, tmp_path):
    """The blank template, once filled, is accepted as is."""
    w = world
    text = importer.template_csv().decode("utf-8-sig")
    buf = io.StringIO()
    csv.writer(buf).writerow([good_row(w, 1)[k] for k in EN])
    path = tmp_path / "filled.csv"
    path.write_bytes((text + buf.getvalue()).encode("utf-8-sig"))

    assert "1 rows OK" in run(path, "--dry-run")
