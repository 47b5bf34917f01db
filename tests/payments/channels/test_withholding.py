"""Bank withholding (代扣): agreements, the debit file, the bank's result file — hand-computed figures.

Accounts in bureau A, all with a withholding agreement at 中国建设银行 (105):
- 3100000001 张三, residential: bill 2026-08 100.00 due 2026-09-20;
- 3100000002 王五, commercial: bill 2026-08 200.00 due 2026-09-30.
Bureau B's 3200000001 李四 has one too (bill 50.00), which bureau A never sees.
"""

import threading
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.choices import CustomerClass
from gridcare.payments.channels import withholding as wh
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import (
    LedgerEntry,
    Payment,
    WithholdingAgreement,
    WithholdingBatch,
    WithholdingItem,
)
from tests.factories import CustomerFactory, UserFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
API = "/api/v1"
AS_OF = date(2026, 10, 10)
CARD_A = "6222021234567890128"  # Luhn: valid (a 19-digit 建设银行-style debit card)
CARD_A2 = "6217001234567890122"  # Luhn: valid
CARD_B = "62284800123456782"  # Luhn: valid, 17 digits

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent imports need row locks"
)


@pytest.fixture
def staff(world):
    return {
        "a_cashier": UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a),
        "b_cashier": UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b),
        "a_billing": UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a),
    }


@pytest.fixture
def setup(world, staff):
    wang = CustomerFactory(name="王五", unit=world.station_a, customer_class=CustomerClass.COMMERCIAL)
    acct_a2 = make_account(wang, "3100000002", world.area_a)
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    issued_bill(acct_a2, "2026-08", "200.00", date(2026, 9, 30))
    issued_bill(world.acct_b, "2026-08", "50.00", date(2026, 9, 20))
    sys = Actor()
    wh.agreement_create(
        actor=sys,
        account_number="3100000001",
        bank_code="105",
        bank_account=CARD_A,
        holder_name="张三",
        signed_on=date(2026, 1, 5),
    )
    wh.agreement_create(
        actor=sys,
        account_number="3100000002",
        bank_code="105",
        bank_account=CARD_A2,
        holder_name="王五",
        signed_on=date(2026, 1, 5),
    )
    wh.agreement_create(
        actor=sys,
        account_number="3200000001",
        bank_code="105",
        bank_account=CARD_B,
        holder_name="李四",
        signed_on=date(2026, 1, 5),
    )
    return acct_a2


def export_a(staff) -> WithholdingBatch:
    return wh.withholding_export(actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF)


def result_file(batch, rows, encoding="gbk", header=None) -> bytes:
    head = header or f"{batch.batch_no},{len(rows)},{sum((D(r[2]) for r in rows), D('0'))}"
    return ("\r\n".join([head] + [",".join(r) for r in rows]) + "\r\n").encode(encoding)


# ---------------------------------------------------------------- agreements


def test_agreement_rules_and_masking(world, staff, login):
    cashier = Actor(user=staff["a_cashier"])
    CustomerFactory(name="赵六", unit=world.station_a)
    with pytest.raises(ValidationError) as exc:
        wh.agreement_create(
            actor=cashier,
            account_number="3100000001",
            bank_code="105",
            bank_account="6222021234567890127",  # last digit off by one: Luhn fails
            holder_name="张三",
            signed_on=date(2026, 1, 5),
        )
    assert "Luhn" in exc.value.message_dict["bank_account"][0]
    with pytest.raises(ValidationError) as exc:
        wh.agreement_create(
            actor=cashier,
            account_number="3100000001",
            bank_code="999",
            bank_account="12345",
            holder_name="张,三",
            signed_on=date(2026, 1, 5),
        )
    assert set(exc.value.message_dict) == {"bank_code", "bank_account", "holder_name"}
    # A rural credit passbook (402) has no check digit: 12 digits are enough
    a = wh.agreement_create(
        actor=cashier,
        account_number="3100000001",
        bank_code="402",
        bank_account="123456789012",
        holder_name="张三",
        signed_on=date(2026, 1, 5),
    )
    assert a.bank_name == "农村信用社"
    with pytest.raises(ValidationError):  # one active agreement per account
        wh.agreement_create(
            actor=cashier,
            account_number="3100000001",
            bank_code="105",
            bank_account=CARD_A,
            holder_name="张三",
            signed_on=date(2026, 1, 5),
        )
    with pytest.raises(PermissionDenied):  # bureau B's cashier cannot sign for bureau A's account
        wh.agreement_create(
            actor=Actor(user=staff["b_cashier"]),
            account_number="3100000001",
            bank_code="105",
            bank_account=CARD_A,
            holder_name="张三",
            signed_on=date(2026, 1, 5),
        )
    wh.agreement_deactivate(actor=cashier, agreement=a)
    b = wh.agreement_create(
        actor=cashier,
        account_number="3100000001",
        bank_code="105",
        bank_account=CARD_A,
        holder_name="张三",
        signed_on=date(2026, 2, 1),
    )
    assert list(
        AuditEvent.objects.filter(action__startswith="withholding_agreement")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["withholding_agreement.create", "withholding_agreement.deactivate", "withholding_agreement.create"]
    # The audit row and a cashier (no customer.view_pii) see 6222****0128; an admin sees the number
    assert AuditEvent.objects.filter(object_id=str(b.pk)).get().changes["bank_account"] == "6222****0128"
    rows = login(staff["a_cashier"]).get(f"{API}/withholding/agreements?active=true").json()
    assert [(r["account_number"], r["bank_account"]) for r in rows] == [("3100000001", "6222****0128")]
    assert [r["holder_name"] for r in rows] == ["张*"]  # the holder's name is personal data too
    rows = login(world.admin).get(f"{API}/withholding/agreements?active=true").json()
    assert [(r["bank_account"], r["holder_name"]) for r in rows] == [(CARD_A, "张三")]
    page = login(staff["a_cashier"]).get("/payments/withholding/agreements/").content.decode()
    assert "6222****0128" in page and CARD_A not in page
    assert "<td>张*</td>" in page and "张三" not in page


def test_agreement_api_and_page(world, staff, login):
    c = login(staff["a_cashier"])
    body = {
        "account_number": "3100000001",
        "bank_code": "105",
        "bank_account": CARD_A,
        "holder_name": "张三",
        "signed_on": "2026-01-05",
    }
    r = c.post(f"{API}/withholding/agreements", body, content_type="application/json")
    assert r.status_code == 201 and r.json()["bank_account"] == "6222****0128"
    bad = c.post(
        f"{API}/withholding/agreements",
        {**body, "account_number": "3100000001", "bank_account": "12ab"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["detail"]} == {"bank_account"}
    # bureau B cannot see (404) nor end it
    aid = r.json()["id"]
    assert login(staff["b_cashier"]).post(f"{API}/withholding/agreements/{aid}/deactivate").status_code == 404
    assert WithholdingAgreement.objects.get(pk=aid).active
    assert c.post(f"{API}/withholding/agreements/{aid}/deactivate").json()["active"] is False
    # The page: a bad number re-renders with the error, a good one signs
    page = c.post("/payments/withholding/agreements/", {**body, "bank_account": "1"})
    assert page.status_code == 400 and "12–19" in page.content.decode()
    page = c.post("/payments/withholding/agreements/", body)
    assert page.status_code == 302 and WithholdingAgreement.objects.filter(active=True).count() == 1


# ---------------------------------------------------------------- export


def test_export_file_line_by_line(world, staff, setup):
    batch = export_a(staff)
    # 3100000001: 100.00 + 20 days (21 Sep – 10 Oct) × 0.1 % × 100.00 = 100.00 + 2.00 = 102.00
    # 3100000002 (commercial): 200.00 + 10 days (1 – 10 Oct) × 0.2 % × 200.00 = 200.00 + 4.00 = 204.00
    # 3200000001 is bureau B's: not in bureau A's batch. Total 102.00 + 204.00 = 306.00
    lines = wh.withholding_file(batch, full=True).decode("gbk").split("\r\n")
    assert lines == [
        f"{batch.batch_no},2,306.00",
        f"1,3100000001,{CARD_A},张三,102.00",
        f"2,3100000002,{CARD_A2},王五,204.00",
        "",
    ]
    assert batch.batch_no.startswith("WH105") and (batch.item_count, batch.total) == (2, D("306.00"))
    # Both accounts are in an unfinished batch now: a second export finds nothing to do
    with pytest.raises(ValidationError):
        export_a(staff)
    with pytest.raises(ValidationError) as exc:
        wh.withholding_export(actor=Actor(user=staff["a_cashier"]), bank_code="999", as_of=AS_OF)
    assert "bank_code" in exc.value.message_dict
    assert AuditEvent.objects.filter(action="withholding_batch.export").count() == 1


def test_export_skips_ended_agreements_and_paid_accounts(world, staff, setup):
    WithholdingAgreement.objects.filter(account__account_number="3100000002").update(active=False)
    batch = export_a(staff)
    assert list(batch.items.values_list("account__account_number", "amount")) == [("3100000001", D("102.00"))]


# ---------------------------------------------------------------- result import


def test_import_success_failure_and_idempotent_reimport(world, staff, setup):
    batch = export_a(staff)
    data = result_file(
        batch,
        [("1", "3100000001", "102.00", "0000", "成功"), ("2", "3100000002", "204.00", "3001", "余额不足")],
    )
    cashier = Actor(user=staff["a_cashier"])
    r = wh.withholding_import(actor=cashier, data=data)
    assert (r.debited, r.failed, r.unchanged, r.changed) == (1, 1, 0, True)
    p = Payment.objects.get()
    assert (p.channel, p.channel_txn_id, p.amount) == ("bank", f"{batch.batch_no}-1", D("102.00"))
    # Debited on the batch date: 2.00 fee + 100.00 principal paid; balance 100 + 2 − 102 = 0
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    items = list(
        WithholdingItem.objects.order_by("serial").values_list("status", "result_code", "result_message")
    )
    assert items == [("debited", "0000", "成功"), ("failed", "3001", "余额不足")]
    batch.refresh_from_db()
    assert batch.status == "settled"
    # The same file again: nothing changes, and the message says so
    again = wh.withholding_import(actor=cashier, data=data)
    assert (again.debited, again.failed, again.unchanged, again.changed) == (0, 0, 2, False)
    assert "已导入过" in wh.import_message(again)
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="withholding_batch.import").count() == 1
    # A settled item cannot get another result
    with pytest.raises(ValidationError) as exc:
        wh.withholding_import(actor=cashier, data=result_file(batch, [("2", "3100000002", "204.00", "0000")]))
    assert list(exc.value.message_dict) == ["row2.返回码"]
    assert Payment.objects.count() == 1
    # The failed account can go into the next batch: 204.00 still due (10 Oct, the same day)
    nxt = export_a(staff)
    assert list(nxt.items.values_list("account__account_number", "amount")) == [("3100000002", D("204.00"))]


def test_debit_date_in_the_header_sets_the_payment_date(world, staff, setup):
    batch = export_a(staff)
    cashier = Actor(user=staff["a_cashier"])
    rows = [("1", "3100000001", "102.00", "0000")]
    now = datetime(2026, 10, 12, 18, tzinfo=ZoneInfo("Asia/Shanghai"))
    for day in ("2026-10-09", "2026-10-13", "2026-13-01"):  # before the batch date, after today, no date
        with pytest.raises(ValidationError) as exc:
            wh.withholding_import(
                actor=cashier,
                data=result_file(batch, rows, header=f"{batch.batch_no},1,102.00,{day}"),
                now=now,
            )
        assert list(exc.value.message_dict) == ["row1.扣款日期"]
    wh.withholding_import(
        actor=cashier, data=result_file(batch, rows, header=f"{batch.batch_no},1,102.00,2026-10-12"), now=now
    )
    # Debited on 12 October: 22 days × 0.1 % × 100.00 = 2.20 fee, so 102.00 pays 2.20 + 99.80 and 0.20 stays owed
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.20")
    st = selectors.statement(world.acct_a, date(2026, 10, 12))
    assert (st.principal_outstanding, st.late_fee) == (D("0.20"), D("0.00"))


def test_import_utf8_with_bom_and_partial_results(world, staff, setup):
    batch = export_a(staff)
    data = b"\xef\xbb\xbf" + result_file(batch, [("2", "3100000002", "204.00", "0000")], encoding="utf-8")
    r = wh.withholding_import(actor=Actor(user=staff["a_cashier"]), data=data)
    assert (r.debited, r.failed) == (1, 0)
    batch.refresh_from_db()
    assert batch.status == "exported"  # item 1 still waits for its result


def test_broken_result_file_lists_every_bad_row_and_writes_nothing(world, staff, setup):
    batch = export_a(staff)
    data = (
        f"{batch.batch_no},5,0.00\r\n"
        "1,3100000001,12.345,0000\r\n"  # row 2: amount with three decimals
        "9,3100000002,204.00,0000\r\n"  # row 3: no serial 9
        "2,3100000009,204.00,0000\r\n"  # row 4: wrong 户号 for serial 2
        "1,3100000001,100.00,00\r\n"  # row 5: duplicate serial, code not 4 digits
        "2,3100000002\r\n"
    ).encode("gbk")  # row 6: two columns
    with pytest.raises(ValidationError) as exc:
        wh.withholding_import(actor=Actor(user=staff["a_cashier"]), data=data)
    errs = exc.value.message_dict
    assert set(errs) == {"row2.金额", "row3.序号", "row4.户号", "row5.序号", "row5.返回码", "row6.列数"}
    assert errs["row2.金额"] == ["第 2 行「金额」：金额最多两位小数（分）"]
    assert not Payment.objects.exists() and not WithholdingItem.objects.exclude(status="pending").exists()
    # A mismatching amount alone, and a header whose total is wrong
    with pytest.raises(ValidationError) as exc:
        wh.withholding_import(
            actor=Actor(user=staff["a_cashier"]),
            data=result_file(batch, [("1", "3100000001", "101.00", "0000")]),
        )
    assert exc.value.message_dict == {"row2.金额": ["第 2 行「金额」：101.00 与批次中该笔金额 102.00 不符"]}
    with pytest.raises(ValidationError) as exc:
        wh.withholding_import(
            actor=Actor(user=staff["a_cashier"]),
            data=result_file(
                batch, [("1", "3100000001", "102.00", "0000")], header=f"{batch.batch_no},1,100.00"
            ),
        )
    assert list(exc.value.message_dict) == ["row1.总金额"]
    # Unknown batch, header only, an empty file
    for data, key in [
        (b"WH000,1,1.00\r\n1,3100000001,1.00,0000\r\n", "row1.批次号"),
        (f"{batch.batch_no},0,0.00\r\n".encode(), "row1.明细"),
        (b"", "row1.批次号"),
    ]:
        with pytest.raises(ValidationError) as exc:
            wh.withholding_import(actor=Actor(user=staff["a_cashier"]), data=data)
        assert key in exc.value.message_dict
    # Bureau B's cashier: bureau A's batch looks missing
    with pytest.raises(ValidationError) as exc:
        wh.withholding_import(
            actor=Actor(user=staff["b_cashier"]),
            data=result_file(batch, [("1", "3100000001", "102.00", "0000")]),
        )
    assert list(exc.value.message_dict) == ["row1.批次号"]
    assert not Payment.objects.exists()


# ---------------------------------------------------------------- API, page, CLI


def test_api_export_download_import(world, staff, setup, login):
    c = login(staff["a_billing"])
    r = c.post(
        f"{API}/withholding/batches",
        {"bank_code": "105", "as_of": "2026-10-10"},
        content_type="application/json",
    )
    assert r.status_code == 201 and (r.json()["item_count"], r.json()["total"]) == (2, "306.00")
    batch_no = r.json()["batch_no"]
    f = c.get(f"{API}/withholding/batches/{batch_no}/file")
    assert f.status_code == 200 and f.content.decode("gbk").splitlines()[0] == f"{batch_no},2,306.00"
    detail = c.get(f"{API}/withholding/batches/{batch_no}").json()
    assert [(i["serial"], i["bank_account"]) for i in detail["items"]] == [
        (1, "6222****0128"),
        (2, "6217****0122"),
    ]
    batch = WithholdingBatch.objects.get(batch_no=batch_no)
    data = result_file(
        batch, [("1", "3100000001", "102.00", "0000"), ("2", "3100000002", "204.00", "3001", "户名不符")]
    )
    bad = c.post(
        f"{API}/withholding/results", {"file": SimpleUploadedFile("r.csv", data.replace(b"102.00", b"1.2.3"))}
    )
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["detail"]} >= {"row2.金额"}
    ok = c.post(f"{API}/withholding/results", {"file": SimpleUploadedFile("r.csv", data)})
    assert ok.status_code == 200 and (ok.json()["debited"], ok.json()["failed"]) == (1, 1)
    again = c.post(f"{API}/withholding/results", {"file": SimpleUploadedFile("r.csv", data)}).json()
    assert again["changed"] is False and Payment.objects.count() == 1


def test_permission_matrix(world, staff, setup, login):
    batch = export_a(staff)
    data = result_file(batch, [("1", "3100000001", "102.00", "0000")])
    export = {"bank_code": "105", "as_of": "2026-10-10"}
    anon, customer, clerk, other = (
        login(),
        login(world.portal_user),
        login(world.a_clerk),
        login(staff["b_cashier"]),
    )
    for c, code in [(anon, 401), (customer, 403), (clerk, 403)]:
        assert c.get(f"{API}/withholding/batches").status_code == code
        assert (
            c.post(f"{API}/withholding/batches", export, content_type="application/json").status_code == code
        )
        assert (
            c.post(f"{API}/withholding/results", {"file": SimpleUploadedFile("r.csv", data)}).status_code
            == code
        )
    for c in (customer, clerk, other):
        assert c.get(f"{API}/withholding/batches/{batch.batch_no}/file").status_code == 404
        assert c.get(f"/payments/withholding/{batch.batch_no}/file/").status_code == 404
    assert other.get(f"{API}/withholding/batches").json() == []
    assert (
        other.post(f"{API}/withholding/results", {"file": SimpleUploadedFile("r.csv", data)}).status_code
        == 422
    )
    assert anon.get("/payments/withholding/").status_code == 302
    assert clerk.get("/payments/withholding/").status_code == 404
    # Bureau B's export only takes bureau B's account
    r = other.post(f"{API}/withholding/batches", export, content_type="application/json")
    assert (
        r.status_code == 201 and r.json()["total"] == "51.00"
    )  # 50.00 + 20 days × 0.1 % × 50.00 = 1.00 (minimum)
    assert not Payment.objects.exists() and WithholdingBatch.objects.count() == 2
    assert login(staff["a_cashier"]).get(f"/payments/withholding/{batch.batch_no}/").status_code == 200


def test_agreement_permission_matrix(world, staff, setup, login, django_assert_max_num_queries):
    body = {
        "account_number": "3100000001",
        "bank_code": "105",
        "bank_account": CARD_A,
        "holder_name": "张三",
        "signed_on": "2026-01-05",
    }
    aid = WithholdingAgreement.objects.get(account=world.acct_a).pk
    anon, customer, clerk, other = (
        login(),
        login(world.portal_user),
        login(world.a_clerk),
        login(staff["b_cashier"]),
    )
    for c, code in [(anon, 401), (customer, 403), (clerk, 403)]:
        assert c.get(f"{API}/withholding/agreements").status_code == code
        assert (
            c.post(f"{API}/withholding/agreements", body, content_type="application/json").status_code == code
        )
    for c, code in [(anon, 401), (customer, 404), (clerk, 404), (other, 404)]:
        assert c.post(f"{API}/withholding/agreements/{aid}/deactivate").status_code == code
    assert (
        other.post(f"{API}/withholding/agreements", body, content_type="application/json").status_code == 404
    )
    assert [a["account_number"] for a in other.get(f"{API}/withholding/agreements").json()] == ["3200000001"]
    assert (
        WithholdingAgreement.objects.filter(active=True).count() == 3
        and WithholdingAgreement.objects.count() == 3
    )
    assert clerk.get("/payments/withholding/agreements/").status_code == 404
    cashier = login(staff["a_cashier"])
    with django_assert_max_num_queries(8):
        page = cashier.get("/payments/withholding/agreements/")
    assert page.content.decode().count("解约</button>") == 2


def test_pages_and_query_count(world, staff, setup, login, django_assert_max_num_queries):
    c = login(staff["a_cashier"])
    r = c.post("/payments/withholding/", {"action": "export", "bank_code": "105", "as_of": "2026-10-10"})
    assert r.status_code == 302
    for _ in range(3):
        WithholdingBatch.objects.create(
            batch_no=f"X{_}",
            unit=world.bureau_a,
            bank_code="105",
            as_of=AS_OF,
            created_at=WithholdingBatch.objects.first().created_at,
        )
    with django_assert_max_num_queries(8):
        page = c.get("/payments/withholding/")
    assert page.status_code == 200 and page.content.decode().count("下载扣款文件") == 4
    batch = WithholdingBatch.objects.exclude(batch_no__startswith="X").get()
    bad = c.post(
        "/payments/withholding/",
        {
            "action": "import",
            "file": SimpleUploadedFile("r.csv", result_file(batch, [("7", "3100000001", "102.00", "0000")])),
        },
    )
    assert bad.status_code == 400 and "第 2 行「序号」" in bad.content.decode()
    ok = c.post(
        "/payments/withholding/",
        {
            "action": "import",
            "file": SimpleUploadedFile("r.csv", result_file(batch, [("1", "3100000001", "102.00", "0000")])),
        },
        follow=True,
    )
    assert "扣款成功 1 笔" in ok.content.decode()


def test_cli_export_and_import(world, staff, setup, tmp_path, capsys):
    out = tmp_path / "debit.csv"
    call_command(
        "withholding_export",
        "--bank",
        "105",
        "--as-of",
        "2026-10-10",
        "--user",
        "a_cashier",
        "--out",
        str(out),
    )
    batch = WithholdingBatch.objects.get()
    # a cashier may export a batch but not send it to the bank: the file is masked (bank account, holder)
    assert out.read_bytes() == wh.withholding_file(batch)
    assert CARD_A.encode() not in out.read_bytes() and b"6222****0128" in out.read_bytes()
    assert "已脱敏" in capsys.readouterr().out
    res = tmp_path / "result.csv"
    res.write_bytes(
        result_file(batch, [("1", "3100000001", "102.00", "0000"), ("2", "3100000002", "204.00", "0000")])
    )
    call_command("withholding_import", str(res), "--user", "a_cashier")
    call_command("withholding_import", str(res))
    text = capsys.readouterr().out
    assert "扣款成功 2 笔" in text and "已导入过" in text and Payment.objects.count() == 2
    res.write_bytes(b"WH0,1,1.00\r\n1,3100000001,1.00,0000\r\n")
    with pytest.raises(CommandError, match="第 1 行「批次号」"):
        call_command("withholding_import", str(res))
    with pytest.raises(CommandError):
        call_command("withholding_export", "--bank", "999")


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_result_file_imported_twice_at_once_records_one_set_of_payments(world, staff, setup):
    batch = export_a(staff)
    data = result_file(batch, [("1", "3100000001", "102.00", "0000"), ("2", "3100000002", "204.00", "0000")])
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(wh.withholding_import(actor=Actor(user=staff["a_cashier"]), data=data))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted((r.debited, r.unchanged) for r in results) == [(0, 2), (2, 0)]
    assert sorted(Payment.objects.values_list("channel_txn_id", flat=True)) == [
        f"{batch.batch_no}-1",
        f"{batch.batch_no}-2",
    ]
    assert LedgerEntry.objects.filter(kind="payment").count() == 2
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")


def test_a_field_beyond_the_csv_limit_is_a_clear_error_not_a_crash():
    from gridcare.payments.channels.withholding import csv_rows

    data = ('批次号,笔数,总金额\n"' + "x" * 200_000 + '"\n').encode()
    with pytest.raises(ValidationError) as exc:
        csv_rows(data)
    assert "file" in exc.value.message_dict and "CSV" in exc.value.message_dict["file"][0]


# ---------------------------------------------------------------- batch numbers

BEIJING = ZoneInfo("Asia/Shanghai")


def fail_all(batch, now) -> None:
    """The bank's answer: every item failed (余额不足), so its accounts can go into the next batch."""
    rows = [
        (str(s), n, str(a), "3001", "余额不足")
        for s, n, a in batch.items.values_list("serial", "account__account_number", "amount")
    ]
    wh.withholding_import(actor=Actor(user=batch.created_by), data=result_file(batch, rows), now=now)


def test_many_batches_in_the_same_second_get_the_next_number_of_the_day(world, staff, setup):
    """Twelve exports at 23:59:59 Beijing time (each re-exporting what the bank refused): 0001 … 0012 of
    6 December; one second later it is 7 December in Beijing (still the 6th in UTC): the count restarts."""
    now = datetime(2026, 12, 6, 23, 59, 59, tzinfo=BEIJING)
    numbers = []
    for _ in range(12):
        batch = wh.withholding_export(
            actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF, now=now
        )
        numbers.append(batch.batch_no)
        fail_all(batch, now)
    assert numbers == [f"WH10520261206{k:04d}" for k in range(1, 13)]
    later = datetime(2026, 12, 7, 0, 0, 0, tzinfo=BEIJING)
    first = wh.withholding_export(
        actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF, now=later
    )
    assert first.batch_no == "WH105202612070001"
    # Bureau B's batch of the same bank and day takes the next number of the day; another bank starts at 0001.
    b = wh.withholding_export(actor=Actor(user=staff["b_cashier"]), bank_code="105", as_of=AS_OF, now=later)
    assert b.batch_no == "WH105202612070002"
    fail_all(b, later)
    wh.agreement_deactivate(actor=Actor(), agreement=WithholdingAgreement.objects.get(account=world.acct_b))
    wh.agreement_create(
        actor=Actor(),
        account_number="3200000001",
        bank_code="102",
        bank_account="6222020000000000000",  # Luhn: 4 + 4 + 4 + 6 + 2 + 0 = 20 → check digit 0
        holder_name="李四",
        signed_on=date(2026, 1, 5),
    )
    icbc = wh.withholding_export(
        actor=Actor(user=staff["b_cashier"]), bank_code="102", as_of=AS_OF, now=later
    )
    assert icbc.batch_no == "WH102202612070001"


def test_two_exports_in_the_same_second_never_collide_whatever_the_random_source(
    world, staff, setup, monkeypatch
):
    """The old number was the second plus a random number below 1,000: two exports of one bank in the same
    second collided one time in a thousand (here forced), a 500. The number no longer depends on chance."""
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: 7)
    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=BEIJING)
    a = wh.withholding_export(actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF, now=now)
    b = wh.withholding_export(actor=Actor(user=staff["b_cashier"]), bank_code="105", as_of=AS_OF, now=now)
    assert (a.batch_no, b.batch_no) == ("WH105202612060001", "WH105202612060002")
    assert WithholdingBatch.objects.count() == 2


def test_a_number_taken_meanwhile_is_retried_not_a_500(world, staff, setup, monkeypatch):
    """Another unit's export committed the number this one had just read: the unique index refuses the row,
    the export takes the next number (in a savepoint: its items are written once, under the new number)."""
    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=BEIJING)
    real = wh.next_batch_no
    calls = []

    # Bureau B's export committed 0001 after this export had read the numbers of the day (none yet).
    WithholdingBatch.objects.create(
        batch_no="WH105202612060001", unit=world.bureau_b, bank_code="105", as_of=AS_OF, created_at=now
    )

    def racing(bank_code, day):
        calls.append("WH105202612060001" if not calls else real(bank_code, day))
        return calls[-1]

    monkeypatch.setattr(wh, "next_batch_no", racing)
    batch = wh.withholding_export(actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF, now=now)
    assert calls == ["WH105202612060001", "WH105202612060002"]
    assert batch.batch_no == "WH105202612060002" and batch.items.count() == 2
    assert WithholdingItem.objects.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_exports_of_two_units_in_the_same_second_get_two_numbers(world, staff, setup):
    """Bureau A's export holds its number uncommitted while bureau B's reads the same number and waits on the
    unique index; when A commits, B's insert fails inside its savepoint and B takes the next number."""
    from django.db import transaction

    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=BEIJING)
    a_exported, b_waiting, results, errors = threading.Event(), threading.Event(), {}, []

    def export_a_and_hold():
        try:
            with transaction.atomic():
                results["a"] = wh.withholding_export(
                    actor=Actor(user=staff["a_cashier"]), bank_code="105", as_of=AS_OF, now=now
                ).batch_no
                a_exported.set()
                b_waiting.wait(timeout=60)
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    def export_b():
        try:
            a_exported.wait(timeout=60)
            results["b"] = wh.withholding_export(
                actor=Actor(user=staff["b_cashier"]), bank_code="105", as_of=AS_OF, now=now
            ).batch_no
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=export_a_and_hold), threading.Thread(target=export_b)]
    for t in threads:
        t.start()
    a_exported.wait(timeout=60)
    # B is blocked on A's uncommitted row: a backend waits on a lock (watched, not slept on)
    with connection.cursor() as cur:
        for _ in range(100_000):
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cur.fetchone()[0]:
                break
    b_waiting.set()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert results == {"a": "WH105202612060001", "b": "WH105202612060002"}


# ---------------------------------------------------------------- who gets the debit file whole


def _file_lines(resp) -> list[str]:
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode("gbk").split("\r\n")


def test_debit_file_is_whole_only_for_the_billing_clerk_and_that_download_is_audited(
    world, staff, setup, login
):
    """payment.batch_send is the billing clerk's alone: the cashier (who may export a batch) and the admin
    (who may see personal data on pages) download the file with 6222****0128 and 张*; the billing clerk's
    download is whole and leaves one customer.view_pii row naming the batch and both customers."""
    batch = export_a(staff)
    masked = [
        f"{batch.batch_no},2,306.00",
        "1,3100000001,6222****0128,张*,102.00",
        "2,3100000002,6217****0122,王*,204.00",
        "",
    ]
    whole = [
        f"{batch.batch_no},2,306.00",
        f"1,3100000001,{CARD_A},张三,102.00",
        f"2,3100000002,{CARD_A2},王五,204.00",
        "",
    ]
    for user in (staff["a_cashier"], world.admin):
        c = login(user)
        assert _file_lines(c.get(f"/payments/withholding/{batch.batch_no}/file/")) == masked
        assert _file_lines(c.get(f"{API}/withholding/batches/{batch.batch_no}/file")) == masked
    assert not AuditEvent.objects.filter(action="customer.view_pii", actor=staff["a_cashier"]).exists()
    billing = login(staff["a_billing"])
    assert _file_lines(billing.get(f"/payments/withholding/{batch.batch_no}/file/")) == whole
    assert _file_lines(billing.get(f"{API}/withholding/batches/{batch.batch_no}/file")) == whole
    rows = AuditEvent.objects.filter(action="customer.view_pii", actor=staff["a_billing"]).order_by("id")
    wang = WithholdingAgreement.objects.get(account__account_number="3100000002").account.customer_id
    assert [(e.channel, e.object_type, e.object_id, e.changes) for e in rows] == [
        (
            channel,
            "payments.withholdingbatch",
            batch.batch_no,
            {
                "source": "withholding.file",
                "object_ids": [batch.batch_no],
                "customer_ids": sorted([world.cust_a.pk, wang]),
            },
        )
        for channel in ("console", "api")
    ]


def test_pii_views_of_agreements_and_batches_are_audited_once_per_request(world, staff, setup, login):
    """The admin (customer.view_pii) reads whole bank accounts on the agreements and batch pages and API:
    each request leaves one customer.view_pii row listing what it showed; the cashier's masked reads none."""
    batch = export_a(staff)
    cashier = login(staff["a_cashier"])
    assert CARD_A not in cashier.get("/payments/withholding/agreements/").content.decode()
    assert cashier.get(f"{API}/withholding/agreements").status_code == 200
    assert cashier.get(f"/payments/withholding/{batch.batch_no}/").status_code == 200
    assert not AuditEvent.objects.filter(action="customer.view_pii").exists()
    admin = login(world.admin)
    assert CARD_A in admin.get("/payments/withholding/agreements/").content.decode()
    assert CARD_B in {a["bank_account"] for a in admin.get(f"{API}/withholding/agreements").json()}
    assert CARD_A in admin.get(f"/payments/withholding/{batch.batch_no}/").content.decode()
    items = admin.get(f"{API}/withholding/batches/{batch.batch_no}").json()["items"]
    assert [i["bank_account"] for i in items] == [CARD_A, CARD_A2]
    rows = list(AuditEvent.objects.filter(action="customer.view_pii").order_by("id"))
    agreements = sorted(str(pk) for pk in WithholdingAgreement.objects.values_list("pk", flat=True))
    assert [
        (e.channel, e.object_type, e.changes["source"], sorted(e.changes["object_ids"])) for e in rows
    ] == [
        ("console", "payments.withholdingagreement", "console.withholding_agreements", agreements),
        ("api", "payments.withholdingagreement", "api.withholding_agreements", agreements),
        ("console", "payments.withholdingbatch", "console.withholding_batch", [batch.batch_no]),
        ("api", "payments.withholdingbatch", "api.withholding_batch", [batch.batch_no]),
    ]
    assert all(len(e.changes["customer_ids"]) in (2, 3) for e in rows)


def test_only_the_billing_clerk_holds_batch_send():
    from gridcare.core.permissions import ROLE_PERMISSIONS, Perm

    assert [r for r, perms in ROLE_PERMISSIONS.items() if Perm.PAYMENT_BATCH_SEND in perms] == [
        Role.BILLING_CLERK
    ]


def test_download_link_says_when_the_file_is_masked(world, staff, setup, login):
    batch = export_a(staff)
    for page in ("/payments/withholding/", f"/payments/withholding/{batch.batch_no}/"):
        assert "下载扣款文件（银行账号已脱敏）" in login(staff["a_cashier"]).get(page).content.decode()
        billing = login(staff["a_billing"]).get(page).content.decode()
        assert "下载扣款文件" in billing and "已脱敏" not in billing


def test_cli_without_user_writes_the_file_for_the_bank_and_audits_it(world, staff, setup, tmp_path):
    out = tmp_path / "debit.csv"
    call_command(
        "withholding_export", "--bank", "105", "--as-of", "2026-10-10", "--unit", "0101", "--out", str(out)
    )
    batch = WithholdingBatch.objects.get()
    assert out.read_bytes() == wh.withholding_file(batch, full=True) and CARD_A.encode() in out.read_bytes()
    [row] = AuditEvent.objects.filter(action="customer.view_pii")
    assert (row.actor_id, row.channel, row.object_id) == (None, "import", batch.batch_no)
