"""`notify_paid` has two paths: the portable ORM path (any database) and the PostgreSQL hot path
(`channels.notify_pg`, issue 12 §3). Given the same order and bills, both must write the same rows and give
the same answers; every case below runs on each path (the hot path on PostgreSQL only) against figures
computed by hand, and the last test runs both paths on one case and compares every row they wrote.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.notify.models import PendingNotice
from gridcare.payments.channels import gateways
from gridcare.payments.models import Allocation, LedgerEntry, Payment, PaymentOrder, Receivable
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
CHANNEL_ACTOR = Actor(user=None, channel=Channel.API, ip="203.0.113.7")

PATHS = [
    pytest.param(False, id="orm"),
    pytest.param(
        True,
        id="postgresql",
        marks=pytest.mark.skipif(connection.vendor != "postgresql", reason="the hot path is PostgreSQL's"),
    ),
]


def _order(world, amount: str) -> PaymentOrder:
    return gateways.order_create(actor=Actor(), account=world.acct_a, amount=amount, channel="alipay")


def _pay(o: PaymentOrder, fast: bool, *, txn: str = "T2026120700000001", amount: str | None = None):
    return gateways.notify_paid(
        channel="alipay",
        order_no=o.order_no,
        channel_txn_id=txn,
        amount=D(amount or str(o.amount)),
        paid_at=timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0),  # today
        actor=CHANNEL_ACTOR,
        fast=fast,
    )


def _due(days: int):
    return timezone.localdate() + timedelta(days=days)


def rows() -> dict:
    """Every row a notification writes, ids replaced by what they stand for (P: the payment, O: the order)."""
    payments = {p.pk: p.channel_txn_id for p in Payment.objects.all()}
    orders = {o.pk: o.order_no for o in PaymentOrder.objects.all()}
    periods = {r.pk: r.period for r in Receivable.objects.all()}
    bills = {r.bill_id: r.period for r in Receivable.objects.all()}

    def changes(c: dict) -> dict:
        return {k: (payments.get(v, v) if k == "payment_id" else v) for k, v in c.items()}

    return {
        "payments": list(
            Payment.objects.order_by("id").values_list(
                "channel", "channel_txn_id", "amount", "unallocated", "status", "account_id", "unit_id"
            )
        ),
        "orders": [
            (
                o.order_no,
                o.status,
                payments.get(o.payment_id),
                o.paid_at == (o.payment.paid_at if o.payment else None),
            )
            for o in PaymentOrder.objects.order_by("id").select_related("payment")
        ],
        "receivables": list(
            Receivable.objects.order_by("due_date").values_list(
                "period", "principal_paid", "fee_charged", "fee_paid", "fee_through"
            )
        ),
        "entries": [
            (e.kind, e.amount, bills.get(e.bill_id), payments.get(e.payment_id), e.occurred_on, e.note)
            for e in LedgerEntry.objects.exclude(kind="bill").order_by("id")
        ],
        "allocations": [
            (payments[a.payment_id], periods[a.receivable_id], a.principal, a.late_fee, a.reversed)
            for a in Allocation.objects.order_by("id")
        ],
        "audit": [
            (
                a.action,
                a.object_type,
                payments.get(int(a.object_id))
                if a.object_type == "payments.payment"
                else orders[int(a.object_id)],
                a.customer_id,
                a.unit_id,
                a.actor_id,
                a.actor_label,
                a.channel,
                a.ip,
                changes(a.changes),
            )
            for a in AuditEvent.objects.filter(action__in=["payment.record", "payment_order.paid"]).order_by(
                "id"
            )
        ],
        "receipts": [
            (
                n.kind,
                n.customer_id,
                n.account_id,
                n.account_number,
                n.context,
                n.dedupe_key.replace(str(next(iter(payments), "")), "P"),
            )
            for n in PendingNotice.objects.order_by("id")
        ],
    }


@pytest.mark.parametrize("fast", PATHS)
def test_the_oldest_bill_is_paid_first(world, fast):
    # Given bills of 100.00 (due in 10 days) and 50.00 (due in 20 days), when 120.00 is paid,
    # then the older bill is paid in full and 20.00 goes to the newer one; nothing is left as credit.
    issued_bill(world.acct_a, "2026-10", "100.00", _due(10))
    issued_bill(world.acct_a, "2026-11", "50.00", _due(20))
    rec = _pay(_order(world, "120.00"), fast)
    assert rec.created and rec.payment.pk == Payment.objects.get().pk
    assert rows()["receivables"] == [
        ("2026-10", D("100.00"), D("0.00"), D("0.00"), None),
        ("2026-11", D("20.00"), D("0.00"), D("0.00"), None),
    ]
    assert rows()["allocations"] == [
        ("T2026120700000001", "2026-10", D("100.00"), D("0.00"), False),
        ("T2026120700000001", "2026-11", D("20.00"), D("0.00"), False),
    ]
    assert Payment.objects.get().unallocated == D("0.00")


@pytest.mark.parametrize("fast", PATHS)
def test_a_late_fee_is_charged_and_paid_before_the_principal(world, fast):
    # Given a residential bill of 100.00 due 10 days ago: 10 days × 0.1 % × 100.00 = 1.00 late fee.
    # When 101.00 is paid, the fee is charged (a ledger entry) and paid first, then the principal.
    issued_bill(world.acct_a, "2026-10", "100.00", _due(-10))
    _pay(_order(world, "101.00"), fast)
    today = timezone.localdate()
    r = rows()
    assert r["receivables"] == [("2026-10", D("100.00"), D("1.00"), D("1.00"), today)]
    assert r["allocations"] == [("T2026120700000001", "2026-10", D("100.00"), D("1.00"), False)]
    assert [(k, a, b, p) for k, a, b, p, _on, _note in r["entries"]] == [
        ("payment", D("-101.00"), None, "T2026120700000001"),
        ("late_fee", D("1.00"), "2026-10", None),
    ]
    assert r["entries"][0][5] == "alipay:T2026120700000001"
    assert Payment.objects.get().unallocated == D("0.00")


@pytest.mark.parametrize("fast", PATHS)
def test_an_overpayment_stays_as_prepaid_credit(world, fast):
    # Given a bill of 100.00 not yet due, when 150.00 is paid, then 50.00 stays on the payment as credit.
    issued_bill(world.acct_a, "2026-10", "100.00", _due(15))
    _pay(_order(world, "150.00"), fast)
    p = Payment.objects.get()
    assert (p.amount, p.unallocated) == (D("150.00"), D("50.00"))
    assert rows()["allocations"] == [("T2026120700000001", "2026-10", D("100.00"), D("0.00"), False)]


@pytest.mark.parametrize("fast", PATHS)
def test_a_duplicate_answers_the_same_payment_and_writes_nothing(world, fast):
    issued_bill(world.acct_a, "2026-10", "100.00", _due(15))
    o = _order(world, "100.00")
    first = _pay(o, fast)
    before = rows()
    again = _pay(o, fast)
    assert first.created and not again.created
    assert again.payment.pk == first.payment.pk and again.payment.amount == D("100.00")
    assert rows() == before
    # The same order paid by another transaction is refused, and writes nothing either.
    with pytest.raises(ValidationError) as exc:
        _pay(o, fast, txn="T2026120700000002")
    assert "channel_txn_id" in exc.value.message_dict
    assert rows() == before


@pytest.mark.parametrize("fast", PATHS)
def test_an_amount_that_is_not_the_orders_is_refused_with_nothing_written(world, fast):
    issued_bill(world.acct_a, "2026-10", "100.00", _due(15))
    o = _order(world, "100.00")
    before = rows()
    with pytest.raises(ValidationError) as exc:
        _pay(o, fast, amount="99.99")
    assert list(exc.value.message_dict) == ["amount"]
    assert "99.99" in exc.value.message_dict["amount"][0] and "100.00" in exc.value.message_dict["amount"][0]
    assert rows() == before and PaymentOrder.objects.get().status == "created"


@pytest.mark.parametrize("fast", PATHS)
def test_an_unknown_order_is_refused(world, fast):
    issued_bill(world.acct_a, "2026-10", "100.00", _due(15))
    before = rows()
    for order_no in ("GC-NO-SUCH-ORDER", "", "X" * 40):
        with pytest.raises(ValidationError) as exc:
            gateways.notify_paid(
                channel="alipay",
                order_no=order_no,
                channel_txn_id="T1",
                amount=D("100.00"),
                paid_at=None,
                fast=fast,
            )
        assert list(exc.value.message_dict) == ["order_no"]
    assert rows() == before


@pytest.mark.parametrize("fast", PATHS)
def test_a_closed_order_and_a_bad_transaction_id_are_refused(world, fast):
    o = _order(world, "100.00")
    with pytest.raises(ValidationError) as exc:
        _pay(o, fast, txn="")
    assert list(exc.value.message_dict) == ["channel_txn_id"]
    PaymentOrder.objects.filter(pk=o.pk).update(status="closed")
    with pytest.raises(ValidationError) as exc:
        _pay(o, fast)
    assert list(exc.value.message_dict) == ["order_no"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize("fast", PATHS)
def test_a_transaction_recorded_before_at_a_counter_pays_the_order_without_a_second_payment(world, fast):
    # The same trade recorded first by another door (same account and amount, no order): the order is paid
    # by that payment, nothing is paid twice.
    from gridcare.payments.ledger import services

    issued_bill(world.acct_a, "2026-10", "100.00", _due(15))
    earlier = services.payment_record(
        actor=Actor(),
        channel="alipay",
        channel_txn_id="T2026120700000001",
        account_number="3100000001",
        amount="100.00",
    ).payment
    o = _order(world, "100.00")
    rec = _pay(o, fast)
    assert not rec.created and rec.payment.pk == earlier.pk
    assert Payment.objects.count() == 1
    o.refresh_from_db()
    assert (o.status, o.payment_id) == ("paid", earlier.pk)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the hot path is PostgreSQL's")
def test_both_paths_write_the_same_rows(world):
    # Three bills of 100.00: due 40 days ago, 10 days ago and in 20 days (residential, 0.1 % a day).
    # 350.00 pays 4.00 + 100.00, 1.00 + 100.00, 100.00, and leaves 45.00 of credit.
    for month, days in ((3, -40), (2, -10), (1, 20)):
        issued_bill(world.acct_a, f"2026-{month:02d}", "100.00", _due(days))
    o = _order(world, "350.00")
    results = {}
    for fast in (False, True):
        with transaction.atomic():
            rec = _pay(o, fast)
            assert rec.created
            results[fast] = rows()
            transaction.set_rollback(True)
    assert results[True] == results[False]
    r = results[True]
    today = timezone.localdate()
    assert r["payments"] == [
        (
            "alipay",
            "T2026120700000001",
            D("350.00"),
            D("45.00"),
            "posted",
            world.acct_a.pk,
            world.acct_a.unit_id,
        )
    ]
    assert r["orders"] == [(o.order_no, "paid", "T2026120700000001", True)]
    assert [x[1:4] for x in r["receivables"]] == [
        (D("100.00"), D("4.00"), D("4.00")),
        (D("100.00"), D("1.00"), D("1.00")),
        (D("100.00"), D("0.00"), D("0.00")),
    ]
    assert [x[4] for x in r["receivables"]] == [today, today, None]
    assert [(k, a) for k, a, *_rest in r["entries"]] == [
        ("payment", D("-350.00")),
        ("late_fee", D("4.00")),
        ("late_fee", D("1.00")),
    ]
    assert [x[2:4] for x in r["allocations"]] == [
        (D("100.00"), D("4.00")),
        (D("100.00"), D("1.00")),
        (D("100.00"), D("0.00")),
    ]
    assert [(a[0], a[2], a[8]) for a in r["audit"]] == [
        ("payment.record", "T2026120700000001", "203.0.113.7"),
        ("payment_order.paid", o.order_no, "203.0.113.7"),
    ]
    assert r["audit"][1][9] == {
        "status": ["created", "paid"],
        "payment_id": "T2026120700000001",
        "channel_txn_id": "T2026120700000001",
    }
    assert r["audit"][0][9] == {
        "channel": "alipay",
        "channel_txn_id": "T2026120700000001",
        "amount": "350.00",
        "account_number": "3100000001",
        "unallocated": "45.00",
    }
    assert [(n[0], n[3], n[5]) for n in r["receipts"]] == [("payment_receipt", "3100000001", "receipt:P")]
    assert r["receipts"][0][4]["amount"] == {"$decimal": "350.00"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array literals are PostgreSQL's")
@pytest.mark.django_db
def test_array_literals_round_trip_through_postgresql():
    """The hot path sends its arrays as literal text; every kind of element it sends (and the awkward strings a
    note could hold) must come back from PostgreSQL as it went in."""
    from datetime import date

    from gridcare.payments.channels.notify_pg import _array

    notes = [
        "alipay:T1",
        'a "quoted", {braced} note',
        "back\\slash",
        "违约金 计至 2026-12-01",
        "",
        "NULL",
        " x ",
    ]
    cases = [
        ([1, 22, None, 3], "bigint[]", [1, 22, None, 3]),
        (
            [D("12.30"), D("-0.01"), D("0"), D("1E+1"), None],
            "numeric[]",
            [D("12.30"), D("-0.01"), D("0"), D("10"), None],
        ),
        ([date(2026, 12, 1), None], "date[]", [date(2026, 12, 1), None]),
        ([True, False, None], "boolean[]", [True, False, None]),
        (notes, "varchar[]", notes),
        ([], "bigint[]", []),
    ]
    with connection.cursor() as cur:
        for values, cast, expected in cases:
            cur.execute(f"SELECT %s::{cast}", [_array(values)])
            assert cur.fetchone()[0] == expected, (values, cast)
