"""Collection agents' settlement files (代收对账文件): each exception kind worked out by hand, 补录, errors.

Collection point CP001 (bureau A) on 2026-11-23 (Beijing time): what we recorded through its API, and
what its settlement file says (header ``agent_txn_id,account_number,amount,paid_at``):

    txn  ours                          file                       →
    A1   100.00  3100000001            100.00  3100000001         matched
    A2    50.00  3100000001             55.00  3100000001         amount_differs
    A3    30.00  3100000001            —                          ours_only
    A4    20.00  3100000001 reversed    20.00  3100000001         reversed_paid
    A5    40.00  3100000002             40.00  3100000001         account_differs
    A6   —                              88.00  3100000002         theirs_only, our account → 补录
    A7   —                              12.00  3200000001         theirs_only, bureau B's account: no 补录
    A8   —                               9.00  3999999999         theirs_only, unknown 户号: no 补录
    A9    15.00 on 11-22 23:59         —                          another day: not compared
    A10   60.00 at 23:30                60.00  3100000001         matched

Not compared either: CP002's own "A1" (another collection point) and PB001's "A1" (the phone bank).
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.channels import agents
from gridcare.payments.ledger import services
from gridcare.payments.models import Payment, ReconciliationException, StatementImport
from gridcare.payments.reconciliation import services as recon
from tests.factories import UserFactory, make_account
from tests.payments.channels.test_agents import Key

D = Decimal
BJ = ZoneInfo("Asia/Shanghai")
API = "/api/v1"
DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=BJ)  # when the agents posted (within 72 hours of every payment)
SYSTEM = Actor()
HEADER = "agent_txn_id,account_number,amount,paid_at"


def at(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, d, h, m, tzinfo=BJ)


@pytest.fixture
def staff(world):
    return {
        "a_cashier": UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a),
        "b_cashier": UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b),
    }


@pytest.fixture
def agent_list(world):
    made = {}
    for code, kind, name in (
        ("CP001", "collection_point", "东关邮政代收点"),
        ("CP002", "collection_point", "东关便民超市代收点"),
        ("PB001", "phone_bank", "农行电话银行"),
    ):
        made[code] = agents.agent_add(
            actor=SYSTEM, code=code, name=name, kind=kind, unit=world.bureau_a, public_key=Key().public_pem
        )
    return made


def agent_pay(agent, txn: str, amount: str, when: datetime, account_number="3100000001") -> Payment:
    paid = agents.agent_payment(
        agent=agent,
        transaction_id=txn,
        account_number=account_number,
        amount=amount,
        paid_at=when.isoformat(),
        now=NOW,
    )
    return Payment.objects.get(pk=paid.answer["payment_id"])


@pytest.fixture
def ours(world, agent_list):
    make_account(world.cust_a, "3100000002", world.area_a)
    cp = agent_list["CP001"]
    agent_pay(cp, "A1", "100.00", at(23, 9))
    agent_pay(cp, "A2", "50.00", at(23, 10))
    agent_pay(cp, "A3", "30.00", at(23, 11))
    a4 = agent_pay(cp, "A4", "20.00", at(23, 12))
    services.payment_reverse(actor=SYSTEM, payment=a4, reason="代收点撤销")
    agent_pay(cp, "A5", "40.00", at(23, 13), account_number="3100000002")
    agent_pay(cp, "A9", "15.00", at(22, 23, 59))
    agent_pay(cp, "A10", "60.00", at(23, 23, 30))
    agent_pay(agent_list["CP002"], "A1", "70.00", at(23, 9))
    agent_pay(agent_list["PB001"], "A1", "25.00", at(23, 9))


FULL = [
    ("A1", "3100000001", "100.00", "2026-11-23 09:00:00"),
    ("A2", "3100000001", "55.00", "2026-11-23 10:00:00"),
    ("A4", "3100000001", "20.00", "2026-11-23 12:00:00"),
    ("A5", "3100000001", "40.00", "2026-11-23 13:00:00"),
    ("A6", "3100000002", "88.00", "2026-11-23 14:00:00"),
    ("A7", "3200000001", "12.00", "2026-11-23 15:00:00"),
    ("A8", "3999999999", "9.00", "2026-11-23 16:00:00"),
    ("A10", "3100000001", "60.00", "2026-11-23 23:30:00"),
]


def settlement(rows, *, header=HEADER, encoding="utf-8") -> bytes:
    return ("\r\n".join([header] + [",".join(r) for r in rows]) + "\r\n").encode(encoding)


def import_cp(staff, data=None, *, user="a_cashier", **kw):
    kw = {"channel": "collection_point", "agent": "CP001", **kw}
    return recon.reconcile_import(
        actor=Actor(user=staff[user]),
        statement_date=DAY,
        data=data if data is not None else settlement(FULL),
        **kw,
    )


def found(stmt) -> set:
    return set(
        stmt.exceptions.filter(status="open").values_list(
            "kind", "channel_txn_id", "account_number", "our_amount", "their_amount"
        )
    )


def test_each_exception_kind_counted_by_hand(world, staff, ours):
    r = import_cp(staff, settlement(FULL, encoding="gbk"))
    s = r.statement
    assert r.created and (s.channel, s.agent.code, s.unit, s.statement_date) == (
        "collection_point",
        "CP001",
        world.bureau_a,
        DAY,
    )
    # 8 rows: 100 + 55 + 20 + 40 + 88 + 12 + 9 + 60 = 384.00; A1 and A10 match
    assert (s.row_count, s.total, s.matched_count) == (8, D("384.00"), 2)
    assert found(s) == {
        ("amount_differs", "CP001:A2", "3100000001", D("50.00"), D("55.00")),
        ("ours_only", "CP001:A3", "3100000001", D("30.00"), None),
        ("reversed_paid", "CP001:A4", "3100000001", D("20.00"), D("20.00")),
        ("account_differs", "CP001:A5", "3100000001", D("40.00"), D("40.00")),
        ("theirs_only", "CP001:A6", "3100000002", None, D("88.00")),
        ("theirs_only", "CP001:A7", "3200000001", None, D("12.00")),
        ("theirs_only", "CP001:A8", "3999999999", None, D("9.00")),
    }
    by_txn = {e.channel_txn_id: e for e in s.exceptions.all()}
    assert [t for t, e in sorted(by_txn.items()) if e.can_backfill] == ["CP001:A6"]
    a6 = by_txn["CP001:A6"]
    assert (a6.account.account_number, a6.unit, a6.row_number) == ("3100000002", world.station_a, 6)
    # Rows outside the agent's units stay with the agent's unit (its settlement), not bureau B
    assert by_txn["CP001:A7"].unit == by_txn["CP001:A8"].unit == world.bureau_a
    assert "代收点（东关邮政代收点）" in recon.import_message(r)


def test_backfill_resolve_and_a_corrected_file(world, staff, ours):
    s = import_cp(staff).statement
    cashier = Actor(user=staff["a_cashier"])
    e = {x.channel_txn_id: x for x in s.exceptions.all()}
    for txn in ("CP001:A7", "CP001:A8", "CP001:A2"):  # not ours, unknown, not theirs-only: no 补录
        with pytest.raises(ValidationError):
            recon.reconcile_backfill(actor=cashier, exception=e[txn])
    recon.reconcile_backfill(actor=cashier, exception=e["CP001:A6"], note="代收点实时通知丢失")
    p = Payment.objects.get(channel="collection_point", channel_txn_id="CP001:A6")
    assert (p.account.account_number, p.amount, timezone.localtime(p.paid_at, BJ)) == (
        "3100000002",
        D("88.00"),
        at(23, 14),
    )
    with pytest.raises(Conflict):  # once only
        recon.reconcile_backfill(actor=cashier, exception=e["CP001:A6"])
    assert Payment.objects.filter(channel_txn_id="CP001:A6").count() == 1
    recon.reconcile_resolve(actor=cashier, exception=e["CP001:A5"], note="已联系代收点更正户号")
    e6 = ReconciliationException.objects.get(pk=e["CP001:A6"].pk)
    assert (e6.status, e6.backfill_payment, e6.note) == ("resolved", p, "代收点实时通知丢失")
    assert list(
        AuditEvent.objects.filter(action__startswith="reconciliation.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["reconciliation.import", "reconciliation.backfill", "reconciliation.resolve"]
    # The same file again: nothing changes. A corrected file (A2 at 50.00, A3 present): replaces it, and A6
    # now matches the payment 补录 recorded.
    again = import_cp(staff)
    assert not again.created and again.statement.pk == s.pk
    corrected = [
        FULL[0],
        ("A2", "3100000001", "50.00", "2026-11-23 10:00:00"),
        ("A3", "3100000001", "30.00", "2026-11-23 11:00:00"),
        *FULL[2:],
    ]
    r = import_cp(staff, settlement(corrected))
    assert r.created and r.replaced.pk == s.pk
    # Matched: A1, A2, A3, A6, A10 = 5 of 9 rows
    assert (r.statement.row_count, r.statement.matched_count) == (9, 5)
    assert {k[:2] for k in found(r.statement)} == {
        ("reversed_paid", "CP001:A4"),
        ("account_differs", "CP001:A5"),
        ("theirs_only", "CP001:A7"),
        ("theirs_only", "CP001:A8"),
    }


def test_each_agent_settles_its_own_file(world, staff, ours):
    cp1 = import_cp(staff)
    cp2 = import_cp(staff, settlement([("A1", "3100000001", "70.00", "2026-11-23 09:00:00")]), agent="CP002")
    pb = import_cp(
        staff,
        settlement([("A1", "3100000001", "25.00", "2026-11-23 09:00:00")]),
        channel="phone_bank",
        agent="PB001",
    )
    assert cp1.created and cp2.created and pb.created
    assert (cp2.statement.matched_count, cp2.statement.exceptions.count()) == (1, 0)
    assert (pb.statement.matched_count, pb.statement.exceptions.count()) == (1, 0)
    assert StatementImport.objects.filter(status="current").count() == 3
    cp1.statement.refresh_from_db()
    assert cp1.statement.status == "current" and cp1.statement.matched_count == 2


def test_broken_files_name_row_and_field_and_write_nothing(world, staff, ours):
    bad = settlement(
        [
            ("A1", "31000000", "100.00", "2026-11-23 09:00:00"),  # row 2: 户号 not 10 digits
            ("bad id", "3100000001", "12.345", "2026-11-23 09:00:00"),  # row 3: id, three decimals
            ("A3", "3100000001", "30.00", "2026-11-24 11:00:00"),  # row 4: another day
            ("A3", "3100000001", "abc", "11:00"),  # row 5: duplicate id, amount, time
        ]
    )
    with pytest.raises(ValidationError) as exc:
        import_cp(staff, bad)
    errs = exc.value.message_dict
    assert set(errs) == {
        "row2.户号",
        "row3.交易号",
        "row3.金额",
        "row4.交易时间",
        "row5.交易号",
        "row5.金额",
        "row5.交易时间",
    }
    assert errs["row2.户号"] == ["第 2 行「户号」：户号应为10位数字：31000000"]
    assert errs["row5.交易号"] == ["第 5 行「交易号」：与第 4 行重复"]
    # A missing column: the header is named
    with pytest.raises(ValidationError) as exc:
        import_cp(
            staff, settlement([("A1", "100.00", "2026-11-23 09:00:00")], header="agent_txn_id,amount,paid_at")
        )
    assert list(exc.value.message_dict) == ["row1.户号"] and "account_number" in exc.value.messages[0]
    assert not StatementImport.objects.exists() and not ReconciliationException.objects.exists()
    # Chinese headers, GBK: accepted
    r = import_cp(staff, settlement(FULL, header="代收流水号,户号,金额,缴费时间", encoding="gbk"))
    assert r.statement.matched_count == 2


@pytest.mark.parametrize(
    "kw, user, field",
    [
        ({"agent": ""}, "a_cashier", "agent"),
        ({"agent": "CP999"}, "a_cashier", "agent"),
        ({"agent": "PB001"}, "a_cashier", "agent"),  # a phone bank named for a collection point's file
        ({"agent": "CP\x00"}, "a_cashier", "agent"),
        ({"channel": "alipay"}, "a_cashier", "agent"),  # Alipay's statement has no agent
        ({}, "b_cashier", "agent"),  # bureau B's cashier: bureau A's agent reads as unknown
    ],
)
def test_agent_checked_before_anything_is_written(world, staff, ours, kw, user, field):
    with pytest.raises(ValidationError) as exc:
        import_cp(staff, user=user, **kw)
    assert list(exc.value.message_dict) == [field]
    assert (
        not StatementImport.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="reconciliation").exists()
    )


def test_unit_other_than_the_agents_is_refused(world, staff, ours):
    with pytest.raises(ValidationError) as exc:
        import_cp(staff, unit=world.station_a)
    assert list(exc.value.message_dict) == ["unit"] and not StatementImport.objects.exists()


def test_api_page_cli_and_permission_matrix(
    world, staff, ours, login, tmp_path, capsys, django_assert_max_num_queries
):
    form = {"channel": "collection_point", "agent": "CP001", "statement_date": "2026-11-23"}

    def upload(cl, **changes):
        return cl.post(
            f"{API}/reconciliations",
            {**form, **changes, "file": SimpleUploadedFile("cp.csv", settlement(FULL))},
        )

    anon, customer, clerk, other = (
        login(),
        login(world.portal_user),
        login(world.a_clerk),
        login(staff["b_cashier"]),
    )
    # Refused first, nothing written: anonymous, customer, staff without the permission, another unit's cashier
    assert [upload(cl).status_code for cl in (anon, customer, clerk, other)] == [401, 403, 403, 422]
    assert upload(other).json()["detail"][0]["field"] == "agent"
    page = {**form, "file": SimpleUploadedFile("cp.csv", settlement(FULL))}
    assert anon.post("/payments/reconcile/", page).status_code == 302  # to the login page
    assert [cl.post("/payments/reconcile/", page).status_code for cl in (customer, clerk)] == [404, 404]
    refused = other.post(
        "/payments/reconcile/", {**form, "file": SimpleUploadedFile("cp.csv", settlement(FULL))}
    )
    assert refused.status_code == 400 and "代收机构不存在：CP001" in refused.content.decode()
    assert not StatementImport.objects.exists() and not ReconciliationException.objects.exists()
    # bureau B's page does not offer bureau A's agents
    assert "CP001" not in other.get("/payments/reconcile/").content.decode()
    # Allowed: the cashier of bureau A, by the API
    c = login(staff["a_cashier"])
    r = upload(c)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["channel"], body["agent"], body["matched_count"]) == ("collection_point", "CP001", 2)
    detail = c.get(f"{API}/reconciliations/{body['id']}").json()
    by_txn = {e["channel_txn_id"]: e for e in detail["exceptions"]}
    assert (by_txn["CP001:A6"]["account_number"], by_txn["CP001:A6"]["can_backfill"]) == ("3100000002", True)
    for cl, code in ((anon, 401), (customer, 404), (clerk, 404), (other, 404)):
        assert cl.get(f"{API}/reconciliations/{body['id']}").status_code == code
    # The page: channel labels in Chinese, the agent's name, the 户号 column
    with django_assert_max_num_queries(8):  # the agents' select adds one query, not one per statement
        listing = c.get("/payments/reconcile/").content.decode()
    assert '<option value="collection_point">代收点</option>' in listing
    assert '<option value="phone_bank">电话银行</option>' in listing and "东关邮政代收点（CP001）" in listing
    with django_assert_max_num_queries(8):
        shown = c.get(f"/payments/reconcile/{body['id']}/").content.decode()
    assert (
        "代收点（东关邮政代收点）" in shown
        and "3999999999" in shown
        and 'data-kind="account_differs"' in shown
    )
    assert "户号不符" in shown
    # The page's upload: a corrected file for the phone bank's day
    r = c.post(
        "/payments/reconcile/",
        {
            "channel": "phone_bank",
            "agent": "PB001",
            "statement_date": "2026-11-23",
            "file": SimpleUploadedFile(
                "pb.csv", settlement([("A1", "3100000001", "25.00", "2026-11-23 09:00:00")])
            ),
        },
    )
    pb = StatementImport.objects.get(agent__code="PB001")
    assert (
        r.status_code == 302
        and r["Location"].endswith(f"/payments/reconcile/{pb.pk}/")
        and pb.matched_count == 1
    )
    # The command
    f = tmp_path / "cp2.csv"
    f.write_bytes(settlement([("A1", "3100000001", "70.00", "2026-11-23 09:00:00")], encoding="gbk"))
    call_command(
        "reconcile_import",
        "--channel",
        "collection_point",
        "--agent",
        "CP002",
        "--date",
        "2026-11-23",
        str(f),
        "--user",
        "a_cashier",
    )
    assert "代收点（东关便民超市代收点） 2026-11-23：1 笔，对平 1 笔，差错 0 笔" in capsys.readouterr().out
    with pytest.raises(CommandError, match="请选择代收机构"):
        call_command("reconcile_import", "--channel", "collection_point", "--date", "2026-11-23", str(f))
