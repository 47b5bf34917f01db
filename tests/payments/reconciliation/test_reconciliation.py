"""Channel statement reconciliation (对账): each exception kind worked out by hand, resolve and 补录.

Our Alipay payments of bureau A on 2026-11-23 (Beijing time), and what Alipay's statement says:

    txn  ours                     statement   →
    001  100.00                   100.00      matched
    002   50.00                    55.00      amount_differs
    003   30.00                   —           ours_only
    004   20.00 (reversed)         20.00      reversed_paid
    005   10.00 on 11-22 23:59    —           (another day: not compared)
    006   60.00 at 23:30          60.00      matched
    007  —                         88.00      theirs_only, 商户订单号 = our order GC…7 → 补录
    008  —                         12.00      theirs_only, unknown order
    009  bureau B's 40.00          40.00      bureau B's payment: left to bureau B
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
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.payments.ledger import services
from gridcare.payments.models import Payment, PaymentOrder, ReconciliationException, StatementImport
from gridcare.payments.reconciliation import services as recon
from tests.factories import UserFactory

D = Decimal
API = "/api/v1"
BJ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
SYSTEM = Actor()
HEADER = "支付宝交易号,商户订单号,业务类型,商品名称,交易时间,金额"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent imports need row locks"
)


def at(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, d, h, m, tzinfo=BJ)


def pay(txn: str, amount: str, when: datetime, account_number="3100000001"):
    return services.payment_record(
        actor=SYSTEM,
        channel="alipay",
        channel_txn_id=txn,
        account_number=account_number,
        amount=amount,
        paid_at=when,
    ).payment


def order(account, order_no: str, amount: str) -> PaymentOrder:
    return PaymentOrder.objects.create(
        order_no=order_no, account=account, channel="alipay", amount=D(amount), created_at=timezone.now()
    )


@pytest.fixture
def staff(world):
    return {
        "a_cashier": UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a),
        "b_cashier": UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b),
    }


@pytest.fixture
def ours(world):
    pay("001", "100.00", at(23, 9))
    pay("002", "50.00", at(23, 10))
    pay("003", "30.00", at(23, 11))
    p4 = pay("004", "20.00", at(23, 12))
    services.payment_reverse(actor=SYSTEM, payment=p4, reason="用户撤销")
    pay("005", "10.00", at(22, 23, 59))
    pay("006", "60.00", at(23, 23, 30))
    pay("009", "40.00", at(23, 9), account_number="3200000001")
    order(world.acct_a, "GC20261123000000000007", "88.00")
    order(world.acct_b, "GC20261123000000000010", "15.00")


def statement(rows: list[tuple[str, str, str, str]], *, encoding="gbk", bom=False, comments=True) -> bytes:
    """An Alipay-style bill: `#` lines above and below, tab-padded cells as Alipay writes them."""
    lines = ["#支付宝业务明细查询", "#账号：[20880000000000000156]"] if comments else []
    lines.append(HEADER)
    lines += [f"{txn}\t,{order_no}\t,交易,电费,{when},{amount}" for txn, order_no, when, amount in rows]
    if comments:
        lines.append(
            "#-----------------------------------------业务明细列表结束------------------------------------"
        )
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


FULL = [
    ("001", "GC1", "2026-11-23 09:00:05", "100.00"),
    ("002", "GC2", "2026-11-23 10:00:05", "55.00"),
    ("004", "GC4", "2026-11-23 12:00:05", "20.00"),
    ("006", "GC6", "2026-11-23 23:30:05", "60.00"),
    ("007", "GC20261123000000000007", "2026-11-23 13:00:00", "88.00"),
    ("008", "XX8", "2026-11-23 14:00:00", "12.00"),
    ("009", "GC9", "2026-11-23 09:00:05", "40.00"),
    ("010", "GC20261123000000000010", "2026-11-23 15:00:00", "15.00"),
]


def kinds(stmt) -> set:
    return set(
        stmt.exceptions.filter(status="open").values_list(
            "kind", "channel_txn_id", "our_amount", "their_amount"
        )
    )


def import_a(staff, data=None, **kw):
    return recon.reconcile_import(
        actor=Actor(user=staff["a_cashier"]),
        channel="alipay",
        statement_date=DAY,
        data=data if data is not None else statement(FULL),
        **kw,
    )


def test_each_exception_kind(world, staff, ours):
    r = import_a(staff)
    s = r.statement
    assert r.created and (s.row_count, s.matched_count) == (8, 2)  # 001 and 006
    # 100 + 55 + 20 + 60 + 88 + 12 + 40 + 15 = 390.00
    assert s.total == D("390.00")
    assert kinds(s) == {
        ("amount_differs", "002", D("50.00"), D("55.00")),
        ("ours_only", "003", D("30.00"), None),
        ("reversed_paid", "004", D("20.00"), D("20.00")),
        ("theirs_only", "007", None, D("88.00")),
        ("theirs_only", "008", None, D("12.00")),
    }
    e7 = s.exceptions.get(channel_txn_id="007")
    assert (
        e7.order.order_no == "GC20261123000000000007" and e7.row_number == 8
    )  # 2 comment lines + header, then the 5th row
    assert s.exceptions.get(channel_txn_id="008").order is None
    # Bureau B imports the same statement: only its own differences (009 matches; 010 is its order)
    rb = recon.reconcile_import(
        actor=Actor(user=staff["b_cashier"]), channel="alipay", statement_date=DAY, data=statement(FULL)
    )
    assert rb.statement.matched_count == 1
    assert {k[:2] for k in kinds(rb.statement)} == {("theirs_only", "010"), ("theirs_only", "008")}


def test_utf8_bom_and_wechat_backticks(world, staff, ours):
    r = import_a(staff, statement(FULL, encoding="utf-8", bom=True))
    assert r.statement.matched_count == 2
    pay_wx = services.payment_record(
        actor=SYSTEM,
        channel="wechat",
        channel_txn_id="4200001",
        amount="9.90",
        account_number="3100000001",
        paid_at=at(23, 8),
    ).payment
    data = (
        "交易时间,公众账号ID,商户号,微信订单号,商户订单号,订单金额\r\n"
        "`2026-11-23 08:00:01,`wx1,`1900000001,`4200001,`GCW1,`9.90\r\n"
    ).encode()
    rw = recon.reconcile_import(
        actor=Actor(user=staff["a_cashier"]), channel="wechat", statement_date=DAY, data=data
    )
    assert (rw.statement.matched_count, rw.statement.exceptions.count()) == (1, 0) and pay_wx.amount == D(
        "9.90"
    )


def test_broken_rows_name_row_and_field_and_write_nothing(world, staff, ours):
    bad = statement(
        [
            ("001", "GC1", "2026-11-23 09:00:05", "12.345"),  # row 4: three decimals
            ("002", "GC2", "2026-11-24 10:00:05", "55.00"),  # row 5: another day
            ("001", "GC1", "2026/11/23 09:00:05", "abc"),  # row 6: duplicate id, amount not a number
            ("003", "GC3", "23.11.2026", "-1"),  # row 7: bad time, negative amount
        ]
    )
    with pytest.raises(ValidationError) as exc:
        import_a(staff, bad)
    errs = exc.value.message_dict
    assert set(errs) == {
        "row4.金额",
        "row5.交易时间",
        "row6.交易号",
        "row6.金额",
        "row7.交易时间",
        "row7.金额",
    }
    assert errs["row4.金额"] == ["第 4 行「金额」：金额最多两位小数（分）"]
    assert errs["row6.交易号"] == ["第 6 行「交易号」：与第 4 行重复"]
    # A wrong column: 交易号 instead of 支付宝交易号
    wrong = "交易号,商户订单号,交易时间,金额\r\n001,GC1,2026-11-23 09:00:05,100.00\r\n".encode("gbk")
    with pytest.raises(ValidationError) as exc:
        import_a(staff, wrong)
    assert list(exc.value.message_dict) == ["row1.交易号"] and "支付宝交易号" in exc.value.messages[0]
    # A short row, an empty file, an unknown channel
    with pytest.raises(ValidationError) as exc:
        import_a(staff, f"{HEADER}\r\n001,GC1\r\n".encode())
    assert list(exc.value.message_dict) == ["row2.列数"]
    with pytest.raises(ValidationError) as exc:
        import_a(staff, b"")
    assert list(exc.value.message_dict) == ["row1.表头"]
    with pytest.raises(ValidationError) as exc:
        recon.reconcile_import(
            actor=Actor(user=staff["a_cashier"]), channel="bank", statement_date=DAY, data=b"x"
        )
    assert "channel" in exc.value.message_dict
    assert not StatementImport.objects.exists() and not ReconciliationException.objects.exists()


def test_header_only_statement_lists_all_ours(world, staff, ours):
    r = import_a(staff, f"{HEADER}\r\n".encode("gbk"))
    # 001, 002, 003, 006 are posted that day; 004 is reversed (nothing to pay); 005 is 11-22
    assert {(k[0], k[1]) for k in kinds(r.statement)} == {
        ("ours_only", t) for t in ("001", "002", "003", "006")
    }


def test_reimport_is_idempotent_and_a_corrected_statement_replaces_open_exceptions(world, staff, ours):
    first = import_a(staff)
    again = import_a(staff)
    assert not again.created and again.statement.pk == first.statement.pk
    assert "已导入过" in recon.import_message(again) and ReconciliationException.objects.count() == 5
    e3 = first.statement.exceptions.get(channel_txn_id="003")
    recon.reconcile_resolve(actor=Actor(user=staff["a_cashier"]), exception=e3, note="渠道次日入账")
    # Corrected: 002 now 50.00 and 003 present; 007/008 gone
    corrected = import_a(
        staff,
        statement(
            [
                *FULL[:1],
                ("002", "GC2", "2026-11-23 10:00:05", "50.00"),
                ("003", "GC3", "2026-11-23 11:00:00", "30.00"),
                *FULL[2:4],
            ]
        ),
    )
    assert corrected.created and corrected.replaced.pk == first.statement.pk
    assert kinds(corrected.statement) == {("reversed_paid", "004", D("20.00"), D("20.00"))}
    first.statement.refresh_from_db()
    assert first.statement.status == "superseded"
    assert dict(first.statement.exceptions.values_list("channel_txn_id", "status")) == {
        "002": "superseded",
        "003": "resolved",
        "004": "superseded",
        "007": "superseded",
        "008": "superseded",
    }
    # The "correction" was wrong: the original file comes back and is the statement again, matched afresh.
    back = import_a(staff)
    assert (
        back.created
        and back.statement.pk == first.statement.pk
        and back.replaced.pk == corrected.statement.pk
    )
    first.statement.refresh_from_db()
    corrected.statement.refresh_from_db()
    assert (first.statement.status, corrected.statement.status) == ("current", "superseded")
    # The same five findings as the first time; 003 keeps its resolution and is not listed again
    assert dict(first.statement.exceptions.values_list("channel_txn_id", "status")) == {
        "002": "open",
        "003": "resolved",
        "004": "open",
        "007": "open",
        "008": "open",
    }


def test_resolve_and_backfill_exactly_once(world, staff, ours):
    s = import_a(staff).statement
    cashier = Actor(user=staff["a_cashier"])
    e2, e7, e8 = (s.exceptions.get(channel_txn_id=t) for t in ("002", "007", "008"))
    with pytest.raises(ValidationError):
        recon.reconcile_resolve(actor=cashier, exception=e2, note="  ")
    with pytest.raises(PermissionDenied):
        recon.reconcile_resolve(actor=Actor(user=staff["b_cashier"]), exception=e2, note="x")
    recon.reconcile_resolve(actor=cashier, exception=e2, note="渠道多收 5 元，已申请退回")
    with pytest.raises(Conflict):  # once only
        recon.reconcile_resolve(actor=cashier, exception=e2, note="again")
    with pytest.raises(ValidationError):  # 008 has no order of ours: no 补录
        recon.reconcile_backfill(actor=cashier, exception=e8)
    before = Payment.objects.count()
    recon.reconcile_backfill(actor=cashier, exception=e7, note="支付宝通知丢失")
    p = Payment.objects.get(channel="alipay", channel_txn_id="007")
    assert (p.amount, timezone.localtime(p.paid_at, BJ)) == (D("88.00"), at(23, 13))
    o = PaymentOrder.objects.get(order_no="GC20261123000000000007")
    assert (o.status, o.payment_id) == ("paid", p.pk)
    with pytest.raises(Conflict):
        recon.reconcile_backfill(actor=cashier, exception=e7)
    assert Payment.objects.count() == before + 1
    e7.refresh_from_db()
    assert (e7.status, e7.backfill_payment_id, e7.note) == ("resolved", p.pk, "支付宝通知丢失")
    assert list(
        AuditEvent.objects.filter(action__startswith="reconciliation.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["reconciliation.import", "reconciliation.resolve", "reconciliation.backfill"]
    # Imported again after 补录 (corrected file, same rows + a trailing blank line): 007 now matches
    r = import_a(staff, statement(FULL) + b"\r\n\r\n")
    assert r.statement.matched_count == 3 and ("theirs_only", "007", None, D("88.00")) not in kinds(
        r.statement
    )


def test_api_page_cli_and_permissions(
    world, staff, ours, login, tmp_path, capsys, django_assert_max_num_queries
):
    c = login(staff["a_cashier"])
    form = {"channel": "alipay", "statement_date": "2026-11-23"}
    r = c.post(f"{API}/reconciliations", {**form, "file": SimpleUploadedFile("a.csv", statement(FULL))})
    assert r.status_code == 201 and r.json()["matched_count"] == 2
    sid = r.json()["id"]
    r2 = c.post(f"{API}/reconciliations", {**form, "file": SimpleUploadedFile("a.csv", statement(FULL))})
    assert r2.status_code == 200 and r2.json()["created"] is False
    bad = c.post(
        f"{API}/reconciliations",
        {**form, "file": SimpleUploadedFile("a.csv", f"{HEADER}\r\n1,2,3,4,5,12.345\r\n".encode())},
    )
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["detail"]} == {
        "row2.交易时间",
        "row2.金额",
    }
    detail = c.get(f"{API}/reconciliations/{sid}").json()
    by_txn = {e["channel_txn_id"]: e for e in detail["exceptions"]}
    assert [k for k, e in by_txn.items() if e["can_backfill"]] == ["007"]
    # Refusals first: nothing changes
    anon, customer, clerk, other = (
        login(),
        login(world.portal_user),
        login(world.a_clerk),
        login(staff["b_cashier"]),
    )
    for cl, code in [(anon, 401), (customer, 403), (clerk, 403)]:
        assert cl.get(f"{API}/reconciliations").status_code == code
        assert (
            cl.post(f"{API}/reconciliations", {**form, "file": SimpleUploadedFile("a.csv", b"x")}).status_code
            == code
        )
    for cl, code in [(anon, 401), (customer, 404), (clerk, 404), (other, 404)]:
        assert cl.get(f"{API}/reconciliations/{sid}").status_code == code
        assert (
            cl.post(
                f"{API}/reconciliation-exceptions/{by_txn['007']['id']}/backfill",
                {"note": ""},
                content_type="application/json",
            ).status_code
            == code
        )
        assert (
            cl.post(
                f"{API}/reconciliation-exceptions/{by_txn['002']['id']}/resolve",
                {"note": "x"},
                content_type="application/json",
            ).status_code
            == code
        )
    assert clerk.get(f"/payments/reconcile/{sid}/").status_code == 404
    assert other.get(f"/payments/reconcile/{sid}/").status_code == 404
    assert not Payment.objects.filter(channel_txn_id="007").exists()
    assert ReconciliationException.objects.filter(status="open").count() == 5
    # Then the cashier: API resolve, page backfill (twice: one payment)
    r = c.post(
        f"{API}/reconciliation-exceptions/{by_txn['002']['id']}/resolve",
        {"note": "已核实"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    # Backfilled once; posted again (a double click) it is a 409 saying who did it, nothing recorded twice
    codes = [
        c.post(f"/payments/reconcile/exceptions/{by_txn['007']['id']}/", {"action": "backfill", "note": ""})
        for _ in range(2)
    ]
    assert [p.status_code for p in codes] == [302, 409] and "不能重复处理" in codes[1].content.decode()
    assert Payment.objects.filter(channel_txn_id="007").count() == 1
    with django_assert_max_num_queries(8):
        page = c.get(f"/payments/reconcile/{sid}/")
    assert page.status_code == 200 and page.content.decode().count('data-kind="') == 5
    with django_assert_max_num_queries(8):
        assert c.get("/payments/reconcile/").status_code == 200
    bad_page = c.post("/payments/reconcile/", {**form, "file": SimpleUploadedFile("a.csv", b"")})
    assert bad_page.status_code == 400 and "第 1 行「表头」" in bad_page.content.decode()
    # CLI
    f = tmp_path / "wx.csv"
    f.write_bytes("微信支付单号,商户订单号,交易时间,金额\r\n".encode("gbk"))
    call_command(
        "reconcile_import", "--channel", "wechat", "--date", "2026-11-23", str(f), "--user", "a_cashier"
    )
    assert "0 笔" in capsys.readouterr().out
    f.write_bytes("微信支付单号,交易时间,金额\r\nW1,2026-11-23 10:00:00,1.001\r\n".encode("gbk"))
    with pytest.raises(CommandError, match="第 2 行「金额」"):
        call_command("reconcile_import", "--channel", "wechat", "--date", "2026-11-23", str(f))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_statement_imported_twice_at_once(world, staff, ours):
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(import_a(staff))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and sorted(r.created for r in results) == [False, True]
    assert StatementImport.objects.count() == 1 and ReconciliationException.objects.count() == 5
