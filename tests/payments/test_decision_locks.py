"""Two people doing the same thing at once (issue 11 §4): approving one refund or one waiver, closing one
counter shift, handling one reconciliation exception, importing two files of one statement. One wins; the
other is refused with `Conflict` (the API's 409) saying who did it first, and nothing is written twice.

The tests with threads need PostgreSQL (each thread has its own connection)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.counter import services as counter
from gridcare.payments.ledger import refunds, services
from gridcare.payments.models import (
    CashierShift,
    FeeWaiver,
    LedgerEntry,
    Payment,
    ReconciliationException,
    Refund,
    RefundPart,
    StatementImport,
)
from gridcare.payments.reconciliation import services as recon
from tests.factories import UserFactory
from tests.payments.counter.test_shifts import debt, open_shift  # noqa: F401 — fixture
from tests.payments.ledger.test_refunds import _at_once, credit, request  # noqa: F401 — fixture
from tests.payments.ledger.test_waiver import setup  # noqa: F401 — fixture
from tests.payments.reconciliation.test_reconciliation import FULL, import_a, ours, staff, statement  # noqa: F401 — fixtures

D = Decimal
API = "/api/v1"
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="parallel connections need PostgreSQL"
)


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a, display_name="赵收费")


@pytest.fixture
def managers(world):
    """Two managers of bureau A, with names."""
    world.a_manager.display_name = "钱经理"
    world.a_manager.save(update_fields=["display_name"])
    return world.a_manager, UserFactory(
        username="a_manager2", role=Role.MANAGER, unit=world.bureau_a, display_name="孙经理"
    )


def _one_wins(results, kind):
    won = [r for r in results if isinstance(r, kind)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(refused) == 1, results
    return won[0], refused[0]


# ---------------------------------------------------------------- refunds (退费审批)


def test_a_decided_refund_is_a_conflict_naming_the_approver(world, credit, cashier, managers, login):  # noqa: F811
    first, second = managers
    r = request(cashier, "20.00", world)
    refunds.refund_decide(actor=Actor(user=first), refund=r, approve=True)
    before = (LedgerEntry.objects.count(), RefundPart.objects.count(), refunds.credit_of(world.acct_a.pk))
    with pytest.raises(Conflict) as exc:
        refunds.refund_decide(actor=Actor(user=second), refund=r, approve=True)
    assert "已被钱经理审批" in str(exc.value) and "批准" in str(exc.value)
    with pytest.raises(Conflict, match="已被钱经理审批"):
        refunds.refund_decide(actor=Actor(user=second), refund=r, approve=False)
    assert (
        LedgerEntry.objects.count(),
        RefundPart.objects.count(),
        refunds.credit_of(world.acct_a.pk),
    ) == before
    assert Refund.objects.get().decided_by == first
    # API: 409 with the same words; console: 409 and the message on the page
    resp = login(second).post(
        f"{API}/refunds/{r.pk}/decide", {"approve": True, "note": ""}, content_type="application/json"
    )
    assert resp.status_code == 409 and "已被钱经理审批" in resp.json()["detail"]
    page = login(second).post(f"/payments/refunds/{r.pk}/decide/", {"decision": "approve", "note": ""})
    assert page.status_code == 409 and "已被钱经理审批" in page.content.decode()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvers_of_one_refund_at_once(world, credit, cashier, managers):  # noqa: F811
    r = request(cashier, "20.00", world)
    results = _at_once(
        [
            lambda m=m: refunds.refund_decide(actor=Actor(user=m), refund=r, approve=True, note=m.username)
            for m in managers
        ]
    )
    won, refusal = _one_wins(results, Refund)
    winner = won.decided_by
    assert f"已被{winner.display_name}审批" in str(refusal)
    # credit 35.00 − 20.00 = 15.00, taken once; one ledger entry, one audit row
    assert refunds.credit_of(world.acct_a.pk) == D("15.00")
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert AuditEvent.objects.filter(action="refund.approve").count() == 1


# ---------------------------------------------------------------- late-fee waivers (违约金减免)


def _waiver(world, setup):  # noqa: F811 — the fixture's value
    clerk, r = setup
    return services.waiver_request(
        actor=Actor(user=clerk), receivable=r, amount="2.00", reason="系统故障", on=date(2026, 10, 10)
    )


def test_a_decided_waiver_is_a_conflict_naming_the_approver(world, setup, managers, login):  # noqa: F811
    first, second = managers
    w = _waiver(world, setup)
    services.waiver_decide(actor=Actor(user=first), waiver=w, approve=False, on=date(2026, 10, 10))
    with pytest.raises(Conflict) as exc:
        services.waiver_decide(actor=Actor(user=second), waiver=w, approve=True, on=date(2026, 10, 10))
    assert "已被钱经理审批" in str(exc.value) and "驳回" in str(exc.value)
    assert not LedgerEntry.objects.filter(kind="waiver").exists()
    resp = login(second).post(
        f"{API}/waivers/{w.pk}/decide", {"approve": True}, content_type="application/json"
    )
    assert resp.status_code == 409 and "已被钱经理审批" in resp.json()["detail"]
    page = login(second).post(f"/payments/waivers/{w.pk}/decide/", {"decision": "approve"})
    assert page.status_code == 409 and "已被钱经理审批" in page.content.decode()
    assert FeeWaiver.objects.get().decided_by == first


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvers_of_one_waiver_at_once(world, setup, managers):  # noqa: F811
    w = _waiver(world, setup)
    results = _at_once(
        [
            lambda m=m: services.waiver_decide(
                actor=Actor(user=m), waiver=w, approve=True, on=date(2026, 10, 10)
            )
            for m in managers
        ]
    )
    won, refusal = _one_wins(results, FeeWaiver)
    assert f"已被{won.decided_by.display_name}审批" in str(refusal)
    # 2.00 waived once: one waiver entry of −2.00
    assert list(LedgerEntry.objects.filter(kind="waiver").values_list("amount", flat=True)) == [D("-2.00")]
    _clerk, r = setup
    r.refresh_from_db()
    assert r.fee_waived == D("2.00")


# ---------------------------------------------------------------- the till close of a shift (日结)


def test_a_closed_shift_is_a_conflict_naming_who_closed_it(world, cashier, login):
    shift = open_shift(cashier)
    counter.shift_close(actor=Actor(user=cashier), shift=shift, declared_cash="0", declared_card="0")
    with pytest.raises(Conflict) as exc:
        counter.shift_close(actor=Actor(user=cashier), shift=shift, declared_cash="0", declared_card="0")
    assert "已于" in str(exc.value) and "由赵收费日结" in str(exc.value)
    c = login(cashier)
    resp = c.post(
        f"{API}/shifts/{shift.pk}/close",
        {"declared_cash": "0", "declared_card": "0"},
        content_type="application/json",
    )
    assert resp.status_code == 409 and "由赵收费日结" in resp.json()["detail"]
    page = c.post(f"/payments/shifts/{shift.pk}/close/", {"declared_cash": "0", "declared_card": "0"})
    assert page.status_code == 409 and "由赵收费日结" in page.content.decode()
    assert AuditEvent.objects.filter(action="shift.close").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_closes_of_one_shift_at_once(world, debt, cashier):  # noqa: F811
    shift = open_shift(cashier)
    actor = Actor(user=cashier)
    counter.counter_payment_record(
        actor=actor, channel="counter_cash", channel_txn_id="R1", account_number="3100000001", amount="30.00"
    )
    close = lambda: counter.shift_close(actor=actor, shift=shift, declared_cash="30.00", declared_card="0")  # noqa: E731
    won, refusal = _one_wins(_at_once([close, close]), CashierShift)
    assert "由赵收费日结" in str(refusal)
    shift.refresh_from_db()
    assert (shift.status, shift.expected_cash, shift.payments_count) == ("closed", D("30.00"), 1)
    assert AuditEvent.objects.filter(action="shift.close").count() == 1


# ---------------------------------------------------------------- reconciliation of one statement (对账)


def test_a_handled_exception_is_a_conflict_naming_who_handled_it(world, staff, ours, login):  # noqa: F811
    staff["a_cashier"].display_name = "周出纳"
    staff["a_cashier"].save(update_fields=["display_name"])
    other = UserFactory(username="a_cashier2", role=Role.CASHIER, unit=world.bureau_a)
    s = import_a(staff).statement
    e2, e7 = (s.exceptions.get(channel_txn_id=t) for t in ("002", "007"))
    recon.reconcile_resolve(actor=Actor(user=staff["a_cashier"]), exception=e2, note="渠道多收")
    recon.reconcile_backfill(actor=Actor(user=staff["a_cashier"]), exception=e7)
    for call in (
        lambda: recon.reconcile_resolve(actor=Actor(user=other), exception=e2, note="again"),
        lambda: recon.reconcile_backfill(actor=Actor(user=other), exception=e7),
    ):
        with pytest.raises(Conflict, match="已由周出纳于.*处理"):
            call()
    assert Payment.objects.filter(channel_txn_id="007").count() == 1
    resp = login(other).post(
        f"{API}/reconciliation-exceptions/{e2.pk}/resolve", {"note": "x"}, content_type="application/json"
    )
    assert resp.status_code == 409 and "已由周出纳于" in resp.json()["detail"]
    page = login(other).post(f"/payments/reconcile/exceptions/{e7.pk}/", {"action": "backfill", "note": ""})
    assert page.status_code == 409 and "已由周出纳于" in page.content.decode()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_backfills_of_one_exception_at_once(world, staff, ours):  # noqa: F811
    other = UserFactory(username="a_cashier2", role=Role.CASHIER, unit=world.bureau_a, display_name="吴出纳")
    staff["a_cashier"].display_name = "周出纳"
    staff["a_cashier"].save(update_fields=["display_name"])
    e7 = import_a(staff).statement.exceptions.get(channel_txn_id="007")
    results = _at_once(
        [
            lambda u=u: recon.reconcile_backfill(actor=Actor(user=u), exception=e7)
            for u in (staff["a_cashier"], other)
        ]
    )
    won, refusal = _one_wins(results, ReconciliationException)
    assert f"已由{won.resolved_by.display_name}于" in str(refusal)
    assert Payment.objects.filter(channel="alipay", channel_txn_id="007").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_files_of_one_statement_imported_at_once(world, staff, ours):  # noqa: F811
    """The original and a different ("corrected") file of the same day at the same moment: the second waits
    for the first and is refused, naming who imported which file; one statement, its own exceptions only."""
    staff["a_cashier"].display_name = "周出纳"
    staff["a_cashier"].save(update_fields=["display_name"])
    corrected = statement(FULL[:4])
    results = _at_once(
        [
            lambda: import_a(staff, file_name="a.csv"),
            lambda: import_a(staff, corrected, file_name="b.csv"),
        ]
    )
    won, refusal = _one_wins(results, recon.ReconResult)
    assert "周出纳" in str(refusal) and won.statement.file_name in str(refusal), str(refusal)
    assert StatementImport.objects.count() == 1
    assert ReconciliationException.objects.exclude(statement=won.statement).count() == 0
    # Imported again afterwards, on purpose, the corrected file replaces the statement as usual
    again = import_a(
        staff, corrected if won.statement.file_name == "a.csv" else statement(FULL), file_name="c.csv"
    )
    assert again.created and again.replaced.pk == won.statement.pk
