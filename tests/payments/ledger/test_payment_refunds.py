"""Refunds of an Alipay or WeChat payment to the original channel (原路退回, issue 13 §3), figures by hand.

张三's account 3100000001 (residential: late fee 0.1 % a day). The usual case: bill A 60.00 (2026-08, the older)
and bill B 30.00 (2026-09), both due far ahead so no late fee, then one Alipay payment of 100.00 on 10 Oct:
A 60.00 and B 30.00 paid, 10.00 left as credit. Ledger: +60 +30 −100 = −10.00.

The channel is a stand-in (`FakeChannel`) registered only in the tests that exercise approval's branches; the
real Alipay and WeChat adapters are tested against the channel simulator in tests/payments/channels.
"""

import re
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.channels import gateways, providers
from gridcare.payments.channels.providers.base import ChannelError, ChannelRefused, Provider, RefundAnswer
from gridcare.payments.ledger import payment_refunds as pr
from gridcare.payments.ledger import refunds
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.ledger.services import payment_reverse
from gridcare.payments.models import Allocation, LedgerEntry, Payment, Receivable, Refund, RefundPart
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

D = Decimal
SH = ZoneInfo("Asia/Shanghai")
API = "/api/v1"
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


def at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def online_payment(world, amount: str, on: date, txn: str, channel: str = "alipay") -> Payment:
    order = gateways.order_create(actor=Actor(), account=world.acct_a, amount=amount, channel=channel)
    rec = gateways.notify_paid(
        channel=channel,
        order_no=order.order_no,
        channel_txn_id=txn,
        amount=D(amount),
        paid_at=at(on.year, on.month, on.day),
    )
    return rec.payment


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)


@pytest.fixture
def two_bills(world):
    a = issued_bill(world.acct_a, "2026-08", "60.00", date(2099, 1, 20), issued_on=date(2026, 9, 5))
    b = issued_bill(world.acct_a, "2026-09", "30.00", date(2099, 2, 20), issued_on=date(2026, 10, 5))
    return a, b


@pytest.fixture
def paid(world, two_bills):
    return online_payment(world, "100.00", date(2026, 10, 10), "2026101022001400001")


def ask(user, payment, amount, reason="重复缴费"):
    return pr.payment_refund_request(actor=Actor(user=user), payment=payment, amount=amount, reason=reason)


def approve_only(manager, refund):
    """The approval's database part (no channel call): approved, channel_status processing."""
    return refunds.refund_decide(actor=Actor(user=manager), refund=refund, approve=True)


def figures(world, bills):
    """(outstanding of each bill, payment credit, ledger balance)."""
    out = []
    for bill in bills:
        r = Receivable.objects.get(bill=bill)
        out.append(r.principal - r.principal_paid)
    return out, selectors.credit_of(world.acct_a.pk), selectors.ledger_balance(world.acct_a.pk)


def snapshot():
    return (
        Refund.objects.count(),
        sorted(Refund.objects.values_list("pk", "status", "channel_status", "refunded_at")),
        RefundPart.objects.count(),
        LedgerEntry.objects.count(),
        sorted(Allocation.objects.values_list("pk", "principal", "late_fee", "reversed")),
        sorted(Payment.objects.values_list("pk", "unallocated", "status")),
        sorted(
            Receivable.objects.values_list("pk", "principal_paid", "fee_charged", "fee_paid", "fee_through")
        ),
    )


class FakeChannel(Provider):
    """A stand-in for Alipay/WeChat in the approval tests: records each refund call and answers from a script
    (a RefundAnswer, or an exception to raise). The real adapters are tested against the channel simulator
    elsewhere (tests/payments/channels)."""

    channel = "alipay"

    def __init__(self):
        self.calls: list[dict] = []
        self.script: list = []

    def configured(self) -> bool:
        return True

    def _unused(self, *args, **kwargs):
        raise AssertionError("the refund tests call only configured() and refund()")

    place = query = close = statement = _unused

    def refund(self, **kwargs) -> RefundAnswer:
        self.calls.append(kwargs)
        step = self.script.pop(0) if self.script else RefundAnswer(kwargs["refund_no"], done=True)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
def channel(monkeypatch, settings):
    """The fake channel for alipay and wechat, and a notify base URL (the registry is restored afterwards)."""
    fake = FakeChannel()
    monkeypatch.setattr(providers, "_factories", {})
    providers.register("alipay", lambda: fake)
    providers.register("wechat", lambda: fake)
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "PAY": {**settings.GRIDCARE["PAY"], "NOTIFY_BASE_URL": "https://pay.example.com/"},
    }
    return fake


# ---------------------------------------------------------------- 1. the request


def test_request_assigns_a_refund_number_and_is_audited(world, paid, cashier):
    refund = ask(cashier, paid, "25.00")
    assert (refund.status, refund.method, refund.payment_id, refund.amount) == (
        "pending",
        "original",
        paid.pk,
        D("25.00"),
    )
    assert re.fullmatch(r"RF\d{22}", refund.refund_no) and len(refund.refund_no) == 24
    assert (refund.origin, refund.channel_status, refund.refunded_at) == ("staff", "", None)
    event = AuditEvent.objects.get(action="refund.request", object_id=str(refund.pk))
    assert event.changes["refund_no"] == refund.refund_no and event.changes["method"] == "original"
    # Nothing moved yet
    assert figures(world, []) == ([], D("10.00"), D("-10.00"))


def test_over_refund_is_refused_and_pending_ones_count(world, paid, cashier):
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        ask(cashier, paid, "100.01")
    assert exc.value.message_dict["amount"] == ["退款金额 100.01 元超过该笔缴费可退金额 100.00 元"]
    assert snapshot() == before
    ask(cashier, paid, "60.00")  # pending: 100.00 − 60.00 = 40.00 left to ask for
    with pytest.raises(ValidationError) as exc:
        ask(cashier, paid, "40.01")
    assert "40.00" in exc.value.message_dict["amount"][0]
    assert ask(cashier, paid, "40.00").amount == D("40.00")
    with pytest.raises(ValidationError):
        ask(cashier, paid, "0.01")  # 100.00 asked for in all


def test_a_rejected_or_refused_refund_frees_its_amount(world, paid, cashier, channel):
    r1 = ask(cashier, paid, "100.00")
    refunds.refund_decide(actor=Actor(user=world.a_manager), refund=r1, approve=False)
    r2 = ask(cashier, paid, "100.00")  # the rejected one holds nothing
    channel.script = [ChannelRefused("ACQ.TRADE_HAS_CLOSE", "交易已关闭")]
    pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=r2, approve=True)
    assert ask(cashier, paid, "100.00").amount == D("100.00")  # nor does one the channel refused


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"reason": " "}, "reason"),
    ],
)
def test_bad_requests(world, paid, cashier, kwargs, field):
    args = {"amount": "10.00", "reason": "重复缴费", **kwargs}
    with pytest.raises(ValidationError) as exc:
        pr.payment_refund_request(actor=Actor(user=cashier), payment=paid, **args)
    assert field in exc.value.message_dict and not Refund.objects.exists()


def test_wrong_channel_no_order_and_reversed_payments_are_refused(world, two_bills, cashier):
    counter = pay("20.00", date(2026, 10, 10), "C1").payment
    with pytest.raises(ValidationError) as exc:
        ask(cashier, counter, "5.00")
    assert exc.value.message_dict["payment"] == ["只有支付宝、微信支付的缴费可以原路退回"]
    # An Alipay payment recorded without an online order (a backfill): nothing to refund the order of
    bare = pay("20.00", date(2026, 10, 11), "2026101122001400009", channel="alipay").payment
    with pytest.raises(ValidationError) as exc:
        ask(cashier, bare, "5.00")
    assert "没有在线支付订单" in exc.value.message_dict["payment"][0]
    online = online_payment(world, "30.00", date(2026, 10, 12), "2026101222001400010")
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    payment_reverse(actor=Actor(user=clerk), payment=online, reason="银行退票")
    with pytest.raises(ValidationError) as exc:
        ask(cashier, Payment.objects.get(pk=online.pk), "5.00")
    assert exc.value.message_dict["payment"] == ["该笔缴费已冲正，不能退款"]
    assert not Refund.objects.exists()


def test_who_may_ask(world, paid):
    for user in (
        world.a_agent,
        world.a_manager,
        UserFactory(username="b_cash", role=Role.CASHIER, unit=world.bureau_b),
    ):
        with pytest.raises(refunds.PermissionDenied):
            ask(user, paid, "5.00")
    assert not Refund.objects.exists()


def test_credit_refund_form_cannot_pick_original(world, paid, cashier):
    with pytest.raises(ValidationError) as exc:
        refunds.refund_request(
            actor=Actor(user=cashier), account=world.acct_a, amount="5.00", reason="x", method="original"
        )
    assert "method" in exc.value.message_dict


def test_a_payment_with_a_refund_asked_cannot_be_reversed(world, paid, cashier):
    ask(cashier, paid, "5.00")
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    before = snapshot()
    with pytest.raises(ValidationError, match="原路退款"):
        payment_reverse(actor=Actor(user=clerk), payment=paid, reason="退票")
    assert snapshot() == before


# ---------------------------------------------------------------- 2. approval and the channel


def test_the_requester_cannot_approve(world, paid, cashier, channel):
    refund = ask(cashier, paid, "25.00")
    Refund.objects.filter(pk=refund.pk).update(requested_by=world.a_manager)
    before = snapshot()
    with pytest.raises(refunds.PermissionDenied):
        pr.refund_decide_and_send(
            actor=Actor(user=world.a_manager), refund=Refund.objects.get(pk=refund.pk), approve=True
        )
    assert snapshot() == before and channel.calls == []


def test_approval_sends_and_settles_when_the_channel_is_done(world, paid, cashier, channel, two_bills):
    refund = ask(cashier, paid, "25.00")
    channel.script = [
        RefundAnswer(
            refund.refund_no, done=True, channel_refund_id="2026101022001400001", finished_at=at(2026, 10, 20)
        )
    ]
    decided = pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert (
        decided.sent.outcome == "settled"
        and decided.message == f"已原路退回 25.00 元（退款单号 {refund.refund_no}）"
    )
    [call] = channel.calls
    order = paid.order
    assert call == {
        "order_no": order.order_no,
        "txn_id": "2026101022001400001",
        "refund_no": refund.refund_no,
        "amount": D("25.00"),
        "total": D("100.00"),
        "reason": "重复缴费",
        "notify_url": "https://pay.example.com/api/v1/pay/alipay/notify",
    }
    r = Refund.objects.get(pk=refund.pk)
    assert (r.status, r.channel_status, r.channel_refund_id, r.refunded_at) == (
        "approved",
        "success",
        "2026101022001400001",
        at(2026, 10, 20),
    )
    # 10.00 credit, then 15.00 of B: B owes 15.00, A stays paid; ledger −10.00 + 25.00 = +15.00
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))
    assert AuditEvent.objects.filter(action="refund.approve", object_id=str(r.pk)).count() == 1
    assert AuditEvent.objects.filter(action="refund.settle", object_id=str(r.pk)).count() == 1


def test_channel_processing_then_its_notification_settles(world, paid, cashier, channel, two_bills):
    refund = ask(cashier, paid, "25.00")
    channel.script = [RefundAnswer(refund.refund_no, done=False)]
    decided = pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert decided.sent.outcome == "processing"
    assert Refund.objects.get(pk=refund.pk).channel_status == "processing"
    assert figures(world, two_bills) == ([D("0.00"), D("0.00")], D("10.00"), D("-10.00"))  # nothing moved yet
    # A REFUND.SUCCESS of another amount is refused and writes nothing
    before = snapshot()
    with pytest.raises(ValidationError):
        pr.channel_refund_notified(
            "alipay", order_no=paid.order.order_no, refund_no=refund.refund_no, amount=D("24.00")
        )
    assert snapshot() == before
    done = pr.channel_refund_notified(
        "alipay",
        order_no=paid.order.order_no,
        refund_no=refund.refund_no,
        channel_refund_id="R1",
        amount=D("25.00"),
        at=at(2026, 10, 21),
    )
    assert done.created and done.refund.pk == refund.pk
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))
    # The channel repeats itself: nothing new
    again = pr.channel_refund_notified(
        "alipay", order_no=paid.order.order_no, refund_no=refund.refund_no, amount=D("25.00")
    )
    assert not again.created and LedgerEntry.objects.filter(kind="refund").count() == 1


def test_channel_down_stays_processing_and_the_retry_job_sends_the_same_number(
    world, paid, cashier, channel, two_bills
):
    refund = ask(cashier, paid, "25.00")
    channel.script = [ChannelError("connect timeout")]
    decided = pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert (decided.sent.outcome, decided.message) == (
        "unreachable",
        "已提交，渠道暂时无法连接，系统将自动重试",
    )
    r = Refund.objects.get(pk=refund.pk)
    assert (r.status, r.channel_status) == ("approved", "processing")
    # Not yet two minutes after approval: the job leaves it alone
    assert pr.refunds_retry(now=r.decided_at + timedelta(minutes=1)) == {
        "settled": 0,
        "processing": 0,
        "unreachable": 0,
        "failed": 0,
    }
    channel.script = [ChannelError("502"), RefundAnswer(refund.refund_no, done=True)]
    later = r.decided_at + timedelta(minutes=3)
    assert pr.refunds_retry(now=later)["unreachable"] == 1
    assert pr.refunds_retry(now=later)["settled"] == 1
    assert pr.refunds_retry(now=later + timedelta(minutes=10))["settled"] == 0  # nothing left to retry
    assert [c["refund_no"] for c in channel.calls] == [refund.refund_no] * 3
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))


def test_channel_refused_marks_failed_and_moves_nothing(world, paid, cashier, channel, two_bills):
    refund = ask(cashier, paid, "25.00")
    channel.script = [ChannelRefused("ACQ.TRADE_HAS_CLOSE", "交易已关闭，不能退款")]
    before = figures(world, two_bills)
    decided = pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert (decided.sent.outcome, decided.message) == ("failed", "渠道拒绝退款：交易已关闭，不能退款")
    r = Refund.objects.get(pk=refund.pk)
    assert (r.status, r.channel_status, r.refunded_at) == ("approved", "failed", None)
    assert figures(world, two_bills) == before and not RefundPart.objects.exists()
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    event = AuditEvent.objects.get(action="refund.fail", object_id=str(r.pk))
    assert event.changes["code"] == "ACQ.TRADE_HAS_CLOSE"
    assert pr.refunds_retry(now=timezone.now() + timedelta(hours=1))["failed"] == 0  # never retried


def test_approval_refused_when_the_channel_cannot_be_used(
    world, paid, cashier, channel, settings, monkeypatch
):
    refund = ask(cashier, paid, "25.00")
    settings.GRIDCARE = {**settings.GRIDCARE, "PAY": {**settings.GRIDCARE["PAY"], "NOTIFY_BASE_URL": ""}}
    settings.DEBUG = False
    before = snapshot()
    with pytest.raises(ValidationError, match="GRIDCARE_PAY_NOTIFY_BASE_URL"):
        pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    monkeypatch.setattr(FakeChannel, "configured", lambda self: False)
    with pytest.raises(ValidationError, match="支付宝渠道未配置"):
        pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert snapshot() == before and channel.calls == []


def test_approval_rechecks_what_is_left(world, paid, cashier, channel):
    r1 = ask(cashier, paid, "70.00")
    # The channel's own refund of 40.00 arrives meanwhile: 100.00 − 40.00 = 60.00 is left, 70.00 no longer fits
    pr.channel_refund_notified(
        "alipay", order_no=paid.order.order_no, refund_no="WX-OWN-1", amount=D("40.00")
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="60.00"):
        pr.refund_decide_and_send(actor=Actor(user=world.a_manager), refund=r1, approve=True)
    assert snapshot() == before and channel.calls == []


def test_online_notify_url(settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "PAY": {**settings.GRIDCARE["PAY"], "NOTIFY_BASE_URL": ""}}
    settings.DEBUG = True
    assert pr.online_notify_url("wechat") == "http://127.0.0.1:8000/api/v1/pay/wechat/notify"
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured):
        pr.online_notify_url("alipay")
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "PAY": {**settings.GRIDCARE["PAY"], "NOTIFY_BASE_URL": "https://pay.example.com"},
    }
    assert pr.online_notify_url("alipay") == "https://pay.example.com/api/v1/pay/alipay/notify"
    with pytest.raises(ValueError):
        pr.online_notify_url("counter_cash")


def test_the_retry_job_kind_is_registered():
    from gridcare.jobs.registry import KINDS, SCHEDULES

    assert "refunds.retry" in KINDS
    assert (SCHEDULES["refunds.retry"].every, SCHEDULES["refunds.retry"].period) == (10, "minutes")


# ---------------------------------------------------------------- 3. the money, by hand


def test_partial_then_full_settle(world, paid, cashier, two_bills):
    a, b = two_bills
    r1 = approve_only(world.a_manager, ask(cashier, paid, "25.00"))
    assert pr.refund_settle(r1, channel_refund_id="T1", at=at(2026, 10, 20)).created
    # 25.00 = 10.00 credit + 15.00 of B's 30.00 (newest allocation first); A 60.00 untouched
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))
    live = sorted(Allocation.objects.filter(reversed=False).values_list("receivable__bill_id", "principal"))
    assert live == [(a.pk, D("60.00")), (b.pk, D("15.00"))]
    assert list(RefundPart.objects.values_list("payment_id", "amount")) == [(paid.pk, D("25.00"))]
    entry = LedgerEntry.objects.get(kind="refund")
    assert (entry.amount, entry.occurred_on, entry.payment_id) == (D("25.00"), date(2026, 10, 20), paid.pk)
    settle = AuditEvent.objects.get(action="refund.settle")
    assert settle.changes["from_credit"] == "10.00"
    assert settle.changes["reopened"] == [{"period": "2026-09", "principal": "15.00", "late_fee": "0.00"}]
    # The rest, 75.00: B's remaining 15.00 (B back to 30.00 owed), then A's 60.00
    r2 = approve_only(world.a_manager, ask(cashier, paid, "75.00"))
    pr.refund_settle(r2, channel_refund_id="T1", at=at(2026, 10, 22))
    assert figures(world, two_bills) == ([D("60.00"), D("30.00")], D("0.00"), D("90.00"))
    assert not Allocation.objects.filter(reversed=False).exists()
    assert Payment.objects.get(pk=paid.pk).unallocated == D("0.00")
    # 90.00 of bills − 100.00 paid + 25.00 + 75.00 refunded = 90.00; nothing more may be asked for
    with pytest.raises(ValidationError):
        ask(cashier, paid, "0.01")


def test_settle_is_idempotent(world, paid, cashier, two_bills):
    refund = approve_only(world.a_manager, ask(cashier, paid, "25.00"))
    assert pr.refund_settle(refund, at=at(2026, 10, 20)).created
    before = snapshot()
    again = pr.refund_settle(refund, at=at(2026, 10, 21))
    assert not again.created and snapshot() == before
    assert AuditEvent.objects.filter(action="refund.settle").count() == 1


def test_a_pending_refund_cannot_be_settled(world, paid, cashier):
    refund = ask(cashier, paid, "25.00")
    with pytest.raises(ValueError):
        pr.refund_settle(refund)
    assert not RefundPart.objects.exists()


def test_other_credit_pays_the_reopened_bill(world, paid, cashier, two_bills):
    """Credit never sits beside open debt: a later counter payment of 50.00 is all credit; refunding 25.00 of
    the Alipay payment re-opens 15.00 of B, which that credit pays at once: credit 50.00 − 15.00 = 35.00."""
    pay("50.00", date(2026, 10, 11), "C9")
    refund = approve_only(world.a_manager, ask(cashier, paid, "25.00"))
    pr.refund_settle(refund, at=at(2026, 10, 20))
    # Balance −60.00 + 25.00 = −35.00; no bill open
    assert figures(world, two_bills) == ([D("0.00"), D("0.00")], D("35.00"), D("-35.00"))


def test_credit_refunds_leave_a_refund_in_flight_its_credit(world, paid, cashier):
    """The Alipay payment's 10.00 credit is what a refund in flight takes first: a credit refund (退费) meanwhile
    finds no credit it may refund."""
    approve_only(world.a_manager, ask(cashier, paid, "25.00"))
    credit_refund = refunds.refund_request(
        actor=Actor(user=cashier), account=world.acct_a, amount="10.00", reason="多缴", method="cash"
    )
    manager2 = UserFactory(username="a_mgr2", role=Role.MANAGER, unit=world.bureau_a)
    with pytest.raises(ValidationError, match="不足"):
        refunds.refund_decide(actor=Actor(user=manager2), refund=credit_refund, approve=True)


def test_late_fee_accrues_again_from_the_refund_date(world, cashier):
    """Bill L 500.00 due 20 Oct, paid on time by Alipay on 10 Oct. 300.00 refunded on 25 Oct re-opens 300.00.
    On 30 Oct the fee is 5 days (26–30 Oct) × 300.00 × 0.1 % = 1.50 — not the 10 days since the due date a
    reversal would count (3.00). On the refund day itself nothing has accrued and the bill shows the 1.00
    minimum."""
    bill = issued_bill(world.acct_a, "2026-09", "500.00", date(2026, 10, 20), issued_on=date(2026, 10, 5))
    payment = online_payment(world, "500.00", date(2026, 10, 10), "2026101022001400777")
    refund = approve_only(world.a_manager, ask(cashier, payment, "300.00"))
    pr.refund_settle(refund, at=at(2026, 10, 25))
    r = Receivable.objects.get(bill=bill)
    assert (r.principal_paid, r.fee_charged, r.fee_through) == (D("200.00"), D("0.00"), date(2026, 10, 25))
    [line] = selectors.statement(world.acct_a, date(2026, 10, 30)).lines
    assert (line.principal_outstanding, line.late_fee) == (D("300.00"), D("1.50"))
    [line] = selectors.statement(world.acct_a, date(2026, 10, 25)).lines
    assert line.late_fee == D("1.00")


def test_late_fee_on_what_was_open_is_charged_up_to_the_refund_date(world, cashier):
    """Bill M 500.00 due 20 Oct; Alipay pays 400.00 on 10 Oct (100.00 still open). Refunding 100.00 on 25 Oct
    first charges the fee on the open 100.00 for 21–25 Oct: 5 × 100.00 × 0.1 % = 0.50; then 200.00 is open.
    On 30 Oct: 0.50 + 5 × 200.00 × 0.1 % = 0.50 + 1.00 = 1.50."""
    bill = issued_bill(world.acct_a, "2026-09", "500.00", date(2026, 10, 20), issued_on=date(2026, 10, 5))
    payment = online_payment(world, "400.00", date(2026, 10, 10), "2026101022001400778")
    refund = approve_only(world.a_manager, ask(cashier, payment, "100.00"))
    pr.refund_settle(refund, at=at(2026, 10, 25))
    r = Receivable.objects.get(bill=bill)
    assert (r.principal_paid, r.fee_charged, r.fee_through) == (D("300.00"), D("0.50"), date(2026, 10, 25))
    fee = LedgerEntry.objects.get(kind="late_fee")
    assert (fee.amount, fee.occurred_on) == (D("0.50"), date(2026, 10, 25))
    [line] = selectors.statement(world.acct_a, date(2026, 10, 30)).lines
    assert (line.principal_outstanding, line.late_fee) == (D("200.00"), D("1.50"))
    # Ledger: 500.00 − 400.00 + 0.50 + 100.00 = 200.50 (the 1.00 accrued since is not charged yet)
    assert selectors.ledger_balance(world.acct_a.pk) == D("200.50")


def test_late_fee_paid_is_taken_back_after_the_principal(world, cashier):
    """Bill N 100.00 due 20 Sep; Alipay pays 110.00 on 10 Oct: fee 20 × 100.00 × 0.1 % = 2.00 then 100.00,
    8.00 credit. Refunding 109.00 on 12 Oct: 8.00 credit, 100.00 principal, then 1.00 of the 2.00 fee paid."""
    bill = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20), issued_on=date(2026, 9, 5))
    payment = online_payment(world, "110.00", date(2026, 10, 10), "2026101022001400779")
    refund = approve_only(world.a_manager, ask(cashier, payment, "109.00"))
    pr.refund_settle(refund, at=at(2026, 10, 12))
    r = Receivable.objects.get(bill=bill)
    assert (r.principal_paid, r.fee_charged, r.fee_paid, r.fee_through) == (
        D("0.00"),
        D("2.00"),
        D("1.00"),
        date(2026, 10, 12),
    )
    [alloc] = Allocation.objects.filter(reversed=False)
    assert (alloc.principal, alloc.late_fee) == (D("0.00"), D("1.00"))
    # Ledger: 100.00 + 2.00 − 110.00 + 109.00 = 101.00 = 100.00 principal + 1.00 fee owed
    assert selectors.ledger_balance(world.acct_a.pk) == D("101.00")


# ---------------------------------------------------------------- 4. refunds the channel reports


def test_wechat_channel_side_refund(world, two_bills):
    payment = online_payment(world, "100.00", date(2026, 10, 10), "4200001234202610100001", channel="wechat")
    order_no = payment.order.order_no
    done = pr.channel_refund_notified(
        "wechat",
        order_no=order_no,
        txn_id=payment.channel_txn_id,
        refund_no="MCH-REFUND-1",
        channel_refund_id="50300001",
        amount=D("25.00"),
        at=at(2026, 10, 20),
        actor=pr.channel_actor("10.0.0.9"),
    )
    r = done.refund
    assert done.created and (r.origin, r.method, r.status, r.decided_by, r.requested_by) == (
        "channel",
        "original",
        "approved",
        None,
        None,
    )
    assert (r.reason, r.channel_status, r.refund_no, r.channel_refund_id) == (
        "渠道侧退款",
        "success",
        "MCH-REFUND-1",
        "50300001",
    )
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))
    for action in ("refund.channel", "refund.settle"):
        event = AuditEvent.objects.get(action=action, object_id=str(r.pk))
        assert (event.actor, event.channel, event.ip) == (None, "api", "10.0.0.9")
    # The same notification again: nothing new
    before = snapshot()
    again = pr.channel_refund_notified(
        "wechat", order_no=order_no, refund_no="MCH-REFUND-1", amount=D("25.00")
    )
    assert not again.created and snapshot() == before
    # Above what is left (100.00 − 25.00 = 75.00), an unknown order, another channel's order: refused
    for kwargs in (
        {"order_no": order_no, "refund_no": "MCH-REFUND-2", "amount": D("75.01")},
        {"order_no": "GC-NO-SUCH-ORDER", "refund_no": "MCH-REFUND-3", "amount": D("1.00")},
        {"order_no": order_no, "refund_no": "", "amount": D("1.00")},
    ):
        with pytest.raises(ValidationError):
            pr.channel_refund_notified("wechat", **kwargs)
    with pytest.raises(ValidationError):
        pr.channel_refund_notified("alipay", order_no=order_no, refund_no="X", amount=D("1.00"))
    assert snapshot() == before


def test_alipay_refunded_totals(world, two_bills):
    payment = online_payment(world, "100.00", date(2026, 10, 10), "2026101022001400002")
    order_no = payment.order.order_no

    def notified(total, **kw):
        return pr.channel_refund_notified(
            "alipay", order_no=order_no, amount=None, refunded_total=D(total), at=at(2026, 10, 20), **kw
        )

    first = notified("30.00")
    assert first.created and first.refund.amount == D("30.00")
    assert first.refund.refund_no == "AL2026101022001400002-3000"
    assert notified("30.00").created is False  # repeat
    assert notified("20.00").created is False  # an older, smaller total
    more = notified("50.00", refund_no="ALIPAY-BIZ-7")  # out_biz_no given: 50.00 − 30.00 = 20.00
    assert (more.refund.amount, more.refund.refund_no) == (D("20.00"), "ALIPAY-BIZ-7")
    assert notified("50.00", refund_no="ALIPAY-BIZ-7").created is False
    assert list(Refund.objects.order_by("id").values_list("amount", flat=True)) == [D("30.00"), D("20.00")]
    # 50.00 back: credit 10.00, B 30.00, then 10.00 of A
    assert figures(world, two_bills) == ([D("10.00"), D("30.00")], D("0.00"), D("40.00"))
    with pytest.raises(ValidationError):
        notified("100.01")


def test_alipay_total_after_our_own_refund_adds_nothing(world, paid, cashier):
    refund = approve_only(world.a_manager, ask(cashier, paid, "25.00"))
    pr.refund_settle(refund, at=at(2026, 10, 20))
    # Alipay reports the trade's total 25.00, which is ours
    assert not pr.channel_refund_notified(
        "alipay", order_no=paid.order.order_no, refunded_total=D("25.00")
    ).created
    assert Refund.objects.count() == 1


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_settles_at_once_settle_once(world, two_bills, cashier):
    payment = online_payment(world, "100.00", date(2026, 10, 10), "2026101022001400003")
    refund = approve_only(world.a_manager, ask(cashier, payment, "25.00"))
    barrier, results = threading.Barrier(2), [None, None]

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = pr.refund_settle(refund, at=at(2026, 10, 20))
        except Exception as exc:  # noqa: BLE001 — part of the result
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r.created for r in results) == [False, True], results
    assert LedgerEntry.objects.filter(kind="refund").count() == 1 and RefundPart.objects.count() == 1
    assert figures(world, two_bills) == ([D("0.00"), D("15.00")], D("0.00"), D("15.00"))


# ---------------------------------------------------------------- pages and API


def test_ledger_page_offers_the_refund_and_takes_the_request(world, paid, cashier, login):
    counter = pay("5.00", date(2026, 10, 11), "C5").payment
    c = login(cashier)
    page = c.get("/payments/accounts/3100000001/ledger/").content.decode()
    assert (
        f'data-testid="refund-form-{paid.pk}"' in page
        and f'data-testid="refund-form-{counter.pk}"' not in page
    )
    assert "退款（原路退回）" in page
    bad = c.post(f"/payments/{paid.pk}/refund/", {"amount": "100.01", "reason": "重复缴费"})
    assert (
        bad.status_code == 400
        and "可退金额 100.00 元" in bad.content.decode()
        and not Refund.objects.exists()
    )
    wrong = c.post(f"/payments/{counter.pk}/refund/", {"amount": "1.00", "reason": "x"})
    assert wrong.status_code == 400 and "只有支付宝、微信支付的缴费可以原路退回" in wrong.content.decode()
    ok = c.post(f"/payments/{paid.pk}/refund/", {"amount": "25.00", "reason": "重复缴费"})
    assert ok.status_code == 302 and Refund.objects.get().amount == D("25.00")
    assert (
        login(world.a_agent).post(f"/payments/{paid.pk}/refund/", {"amount": "1", "reason": "x"}).status_code
        == 404
    )
    b_cashier = UserFactory(username="b_cash", role=Role.CASHIER, unit=world.bureau_b)
    assert (
        login(b_cashier).post(f"/payments/{paid.pk}/refund/", {"amount": "1", "reason": "x"}).status_code
        == 404
    )
    assert Refund.objects.count() == 1


def test_queue_approval_message_ledger_and_receipt(world, paid, cashier, login, channel):
    refund = ask(cashier, paid, "25.00")
    m = login(world.a_manager)
    queue = m.get("/payments/refunds/").content.decode()
    assert "原路退回" in queue and refund.refund_no in queue and paid.channel_txn_id in queue
    channel.script = [ChannelError("down")]
    r = m.post(f"/payments/refunds/{refund.pk}/decide/", {"decision": "approve"}, follow=True)
    page = r.content.decode()
    assert "已提交，渠道暂时无法连接，系统将自动重试" in page
    approved = m.get("/payments/refunds/?status=approved").content.decode()
    assert f'data-testid="channel-status-{refund.pk}">渠道：处理中' in approved
    pr.refunds_retry(now=timezone.now() + timedelta(minutes=3))
    approved = m.get("/payments/refunds/?status=approved").content.decode()
    assert f'data-testid="channel-status-{refund.pk}">渠道：成功' in approved
    ledger = login(cashier).get("/payments/accounts/3100000001/ledger/").content.decode()
    assert f'data-testid="refunded-{paid.pk}">已退款 25.00 元' in ledger and "原路退回：重复缴费" in ledger
    receipt = login(cashier).get(f"/payments/{paid.pk}/receipt/").content.decode()
    assert 'data-testid="receipt-refunded">已退款 25.00 元' in receipt


def test_refused_by_the_channel_shows_its_message(world, paid, cashier, login, channel):
    refund = ask(cashier, paid, "25.00")
    channel.script = [ChannelRefused("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")]
    r = login(world.a_manager).post(
        f"/payments/refunds/{refund.pk}/decide/", {"decision": "approve"}, follow=True
    )
    assert "渠道拒绝退款：卖家余额不足" in r.content.decode()
    assert Refund.objects.get(pk=refund.pk).channel_status == "failed"


def test_payment_refund_api(world, paid, cashier, login, channel):
    url = f"{API}/payments/{paid.pk}/refunds"
    body = {"amount": "25.00", "reason": "重复缴费"}
    assert login().post(url, body, content_type="application/json").status_code == 401
    for user in (world.portal_user, world.a_agent, world.a_manager):
        assert login(user).post(url, body, content_type="application/json").status_code == 403
    b_cashier = UserFactory(username="b_cash", role=Role.CASHIER, unit=world.bureau_b)
    assert login(b_cashier).post(url, body, content_type="application/json").status_code == 404
    c = login(cashier)
    assert c.post(f"{API}/payments/999999/refunds", body, content_type="application/json").status_code == 404
    too_much = c.post(url, dict(body, amount="100.01"), content_type="application/json")
    assert too_much.status_code == 422 and too_much.json()["detail"][0]["field"] == "amount"
    junk = c.post(url, {"amount": "1e3", "reason": ""}, content_type="application/json")
    assert junk.status_code == 422
    assert not Refund.objects.exists()
    made = c.post(url, body, content_type="application/json")
    assert made.status_code == 201
    out = made.json()
    assert (out["method"], out["payment_id"], out["channel_status"], out["origin"]) == (
        "original",
        paid.pk,
        "",
        "staff",
    )
    assert out["refund_no"].startswith("RF")
    detail = c.get(f"{API}/refunds/{out['id']}")
    assert detail.status_code == 200 and detail.json()["refund_no"] == out["refund_no"]
    assert login(b_cashier).get(f"{API}/refunds/{out['id']}").status_code == 404
    assert login(world.a_agent).get(f"{API}/refunds/{out['id']}").status_code == 403
    decided = login(world.a_manager).post(
        f"{API}/refunds/{out['id']}/decide", {"approve": True, "note": ""}, content_type="application/json"
    )
    assert decided.status_code == 200
    d = decided.json()
    assert (d["status"], d["channel_status"], d["channel_status_label"]) == ("approved", "success", "成功")
    assert d["channel_message"].startswith("已原路退回 25.00 元") and d["refunded_at"]
    entries = c.get(f"{API}/accounts/3100000001/ledger").json()["entries"]
    assert [(e["kind"], e["amount"]) for e in entries if e["kind"] == "refund"] == [("refund", "25.00")]
