"""Refunds of credit balance (退费) with a manager's approval, with hand-computed credit and ledger.

张三's account 3100000001: one bill of 80.00 (due far ahead), then payments of 100.00 (10 Oct) and 15.00
(11 Oct). The first pays the bill and leaves 20.00 credit, the second is all credit: credit = 35.00 and the
ledger balance = 80.00 − 100.00 − 15.00 = −35.00.
"""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.ledger import refunds
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import LedgerEntry, Payment, Refund, RefundPart
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

D = Decimal
API = "/api/v1"
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)


@pytest.fixture
def clerk(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def credit(world):
    issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))
    p1 = pay("100.00", date(2026, 10, 10), "P1").payment
    p2 = pay("15.00", date(2026, 10, 11), "P2").payment
    return p1, p2


def request(user, amount, world, reason="多缴退还"):
    return refunds.refund_request(
        actor=Actor(user=user), account=world.acct_a, amount=amount, reason=reason, method="cash"
    )


def snapshot(world):
    return (
        refunds.credit_of(world.acct_a.pk),
        selectors.ledger_balance(world.acct_a.pk),
        Refund.objects.count(),
        RefundPart.objects.count(),
        LedgerEntry.objects.filter(kind="refund").count(),
    )


def test_refund_bigger_than_credit_is_refused(world, credit, cashier):
    assert refunds.credit_of(world.acct_a.pk) == D("35.00")
    before = snapshot(world)
    with pytest.raises(ValidationError) as exc:
        request(cashier, "35.01", world)
    assert "amount" in exc.value.message_dict and "35.00" in exc.value.message_dict["amount"][0]
    assert snapshot(world) == before
    # Pending refunds count: after asking for 30.00, only 35.00 − 30.00 = 5.00 is left to ask for
    request(cashier, "30.00", world)
    with pytest.raises(ValidationError):
        request(cashier, "5.01", world)
    assert request(cashier, "5.00", world).amount == D("5.00")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"reason": ""}, "reason"),
        ({"method": "gold"}, "method"),
    ],
)
def test_bad_refund_requests(world, credit, cashier, kwargs, field):
    args = {"amount": "10.00", "reason": "多缴", "method": "cash", **kwargs}
    with pytest.raises(ValidationError) as exc:
        refunds.refund_request(actor=Actor(user=cashier), account=world.acct_a, **args)
    assert field in exc.value.message_dict and not Refund.objects.exists()


def test_approval_by_the_requester_is_refused(world, credit):
    # No role both asks and approves; a manager's own request (made here directly) still may not be
    # approved by that manager.
    refund = Refund.objects.create(
        account=world.acct_a,
        unit=world.acct_a.unit,
        amount=D("10.00"),
        reason="x",
        method="cash",
        requested_by=world.a_manager,
        requested_at=timezone.now(),
    )
    before = snapshot(world)
    with pytest.raises(refunds.PermissionDenied):
        refunds.refund_decide(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert snapshot(world) == before and Refund.objects.get().status == "pending"


def test_approval_moves_credit_and_ledger(world, credit, cashier):
    p1, p2 = credit
    refund = request(cashier, "25.00", world)
    refunds.refund_decide(actor=Actor(user=world.a_manager), refund=refund, approve=True, note="同意")
    # 25.00 taken oldest payment first: 20.00 of P1's credit, then 5.00 of P2's
    p1.refresh_from_db()
    p2.refresh_from_db()
    assert (p1.unallocated, p2.unallocated) == (D("0.00"), D("10.00"))
    assert list(RefundPart.objects.values_list("payment_id", "amount")) == [
        (p1.pk, D("20.00")),
        (p2.pk, D("5.00")),
    ]
    # credit 35.00 − 25.00 = 10.00; ledger −35.00 + 25.00 = −10.00
    assert refunds.credit_of(world.acct_a.pk) == D("10.00")
    assert selectors.ledger_balance(world.acct_a.pk) == D("-10.00")
    entry = LedgerEntry.objects.get(kind="refund")
    assert entry.amount == D("25.00")
    r = Refund.objects.get()
    assert (r.status, r.decided_by, r.decision_note) == ("approved", world.a_manager, "同意")
    assert AuditEvent.objects.filter(action="refund.approve", object_id=str(r.pk)).count() == 1
    # Decided once only
    with pytest.raises(Conflict, match=f"已被{world.a_manager.display_name}审批"):
        refunds.refund_decide(actor=Actor(user=world.a_manager), refund=r, approve=True)
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_rejection_changes_no_money(world, credit, clerk):
    refund = request(clerk, "10.00", world)  # a billing clerk may ask too
    before = snapshot(world)
    refunds.refund_decide(actor=Actor(user=world.a_manager), refund=refund, approve=False, note="凭证不全")
    assert snapshot(world) == before and Refund.objects.get().status == "rejected"
    assert AuditEvent.objects.filter(action="refund.reject").count() == 1


def test_approval_rechecks_the_credit(world, credit, cashier):
    refund = request(cashier, "25.00", world)
    # A new bill of 30.00 is issued: it takes 30.00 of the 35.00 credit, leaving 5.00
    issued_bill(world.acct_a, "2026-10", "30.00", date(2099, 2, 20), issued_on=date(2026, 11, 5))
    assert refunds.credit_of(world.acct_a.pk) == D("5.00")
    before = snapshot(world)
    with pytest.raises(ValidationError):
        refunds.refund_decide(actor=Actor(user=world.a_manager), refund=refund, approve=True)
    assert snapshot(world) == before and Refund.objects.get().status == "pending"


def test_refund_api_and_permission_matrix(world, credit, cashier, login):
    body = {
        "account_number": "3100000001",
        "amount": "12.00",
        "reason": "多缴退还",
        "method": "bank_transfer",
    }
    url = f"{API}/refunds"
    assert login().post(url, body, content_type="application/json").status_code == 401
    for user in (world.portal_user, world.a_agent, world.a_manager):  # customer, no permission, approver only
        assert login(user).post(url, body, content_type="application/json").status_code == 403
    b_cashier = UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b)
    other = login(b_cashier).post(url, body, content_type="application/json")
    assert other.status_code == 422 and other.json()["detail"][0]["field"] == "account_number"
    assert not Refund.objects.exists()
    c = login(cashier)
    first = c.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = c.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
    assert Refund.objects.count() == 1
    rid = first.json()["id"]
    decide = f"{API}/refunds/{rid}/decide"
    yes = {"approve": True, "note": "同意"}
    assert login().post(decide, yes, content_type="application/json").status_code == 401
    b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)
    for user in (world.portal_user, world.a_agent, cashier, b_manager):
        assert login(user).post(decide, yes, content_type="application/json").status_code == 404
    assert Refund.objects.get().status == "pending" and not LedgerEntry.objects.filter(kind="refund").exists()
    m = login(world.a_manager)
    assert [r["id"] for r in m.get(f"{url}?status=pending").json()] == [rid]
    assert login(b_manager).get(url).json() == []
    ok = m.post(decide, yes, content_type="application/json", HTTP_IDEMPOTENCY_KEY="d-1")
    replay = m.post(decide, yes, content_type="application/json", HTTP_IDEMPOTENCY_KEY="d-1")
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and replay.json() == ok.json()
    # credit 35.00 − 12.00 = 23.00
    assert refunds.credit_of(world.acct_a.pk) == D("23.00")
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    too_much = c.post(url, dict(body, amount="23.01"), content_type="application/json")
    assert too_much.status_code == 422 and Refund.objects.count() == 1


def test_refund_pages(world, credit, cashier, login, django_assert_max_num_queries):
    c = login(cashier)
    form = c.get("/payments/refunds/new/?account_number=3100000001")
    assert form.status_code == 200 and 'data-testid="refund-credit"' in form.content.decode()
    assert "35.00" in form.content.decode()
    bad = c.post(
        "/payments/refunds/new/",
        {"account_number": "3100000001", "amount": "36.00", "method": "cash", "reason": "多缴"},
    )
    assert bad.status_code == 400 and not Refund.objects.exists()
    ok = c.post(
        "/payments/refunds/new/",
        {"account_number": "3100000001", "amount": "5.00", "method": "cash", "reason": "多缴"},
    )
    assert ok.status_code == 302 and Refund.objects.get().amount == D("5.00")
    for i in range(4):
        request(cashier, "1.00", world, reason=f"多缴{i}")
    m = login(world.a_manager)
    with django_assert_max_num_queries(10):
        queue = m.get("/payments/refunds/")
    assert queue.content.decode().count('value="approve"') == 5
    refund = Refund.objects.order_by("id").first()
    assert (
        m.post(f"/payments/refunds/{refund.pk}/decide/", {"decision": "approve", "note": ""}).status_code
        == 302
    )
    assert Refund.objects.get(pk=refund.pk).status == "approved"
    assert login(world.a_agent).get("/payments/refunds/").status_code == 404
    assert (
        login(cashier).post(f"/payments/refunds/{refund.pk}/decide/", {"decision": "approve"}).status_code
        == 404
    )
    # credit 35.00 − 5.00 approved = 30.00
    assert refunds.credit_of(world.acct_a.pk) == D("30.00")


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


def _at_once(calls: list) -> list:
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 — the refused one is part of the result
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _decide(manager, refund):
    return lambda: refunds.refund_decide(actor=Actor(user=manager), refund=refund, approve=True)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_keep_credit_nonnegative(world, credit, cashier, clerk):
    # Two requests of 20.00 and 15.00 (= the 35.00 credit) wait for a decision
    r1 = request(cashier, "20.00", world)
    r2 = request(clerk, "15.00", world)
    # A bill of 10.00 is issued meanwhile: credit 35.00 − 10.00 = 25.00, so only one of the two can pass
    with transaction.atomic():
        issued_bill(world.acct_a, "2026-10", "10.00", date(2099, 2, 20), issued_on=date(2026, 11, 5))
    results = _at_once([_decide(world.a_manager, r1), _decide(world.a_manager, r2)])
    approved = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(approved) == 1 and len(refused) == 1, results
    credit_left = refunds.credit_of(world.acct_a.pk)
    # 25.00 − 20.00 = 5.00 or 25.00 − 15.00 = 10.00
    assert credit_left == D("25.00") - approved[0].amount and credit_left >= 0
    assert not Payment.objects.filter(unallocated__lt=0).exists()
    # Ledger: 80.00 + 10.00 − 115.00 + refunded = −credit
    assert selectors.ledger_balance(world.acct_a.pk) == D("-25.00") + approved[0].amount == -credit_left


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_approval_concurrent_with_a_payment_and_a_bill(world, credit, cashier):
    refund = request(cashier, "35.00", world)

    def payment():
        return pay("50.00", timezone.localdate() - timedelta(days=1), "P3")

    results = _at_once([_decide(world.a_manager, refund), payment])
    assert isinstance(results[0], Refund) and results[1].created, results
    # credit 35.00 + 50.00 − 35.00 = 50.00; ledger −35.00 − 50.00 + 35.00 = −50.00
    assert refunds.credit_of(world.acct_a.pk) == D("50.00")
    assert selectors.ledger_balance(world.acct_a.pk) == D("-50.00")
    # Now a refund of all 50.00 at the same moment as a bill of 30.00 that its credit would pay
    r2 = request(cashier, "50.00", world)

    def bill():
        with transaction.atomic():
            return issued_bill(
                world.acct_a, "2026-10", "30.00", date(2099, 2, 20), issued_on=date(2026, 11, 5)
            )

    results = _at_once([_decide(world.a_manager, r2), bill])
    credit_left = refunds.credit_of(world.acct_a.pk)
    assert credit_left >= 0 and not Payment.objects.filter(unallocated__lt=0).exists()
    if isinstance(results[0], Refund):  # refund first: credit 0, the bill stays open (30.00 owed)
        assert credit_left == D("0.00") and selectors.ledger_balance(world.acct_a.pk) == D("30.00")
    else:  # bill first: 50.00 − 30.00 = 20.00 left, the refund of 50.00 is refused
        assert isinstance(results[0], ValidationError)
        assert credit_left == D("20.00") and selectors.ledger_balance(world.acct_a.pk) == D("-20.00")


def test_a_payment_whose_credit_was_refunded_cannot_be_reversed(world, credit, cashier):
    """P2 (15.00) is all credit; refunding 30.00 takes P1's 20.00 credit first (oldest), then 10.00 of P2's.
    Reversing P2 now would charge the customer the refunded 10.00 a second time: refused, nothing changed."""
    from gridcare.payments.ledger.services import payment_reverse

    p1, p2 = credit
    manager = UserFactory(username="a_mgr_rev", role=Role.MANAGER, unit=world.bureau_a)
    refund = request(cashier, "30.00", world)
    refunds.refund_decide(actor=Actor(user=manager), refund=refund, approve=True, note="同意")
    # credit 35.00 − 30.00 = 5.00 left, all on P2 (15.00 − 10.00)
    assert refunds.credit_of(world.acct_a.pk) == D("5.00")
    assert refunds.refunded_of(p2.pk) == D("10.00")
    clerk = UserFactory(username="a_clerk_rev", role=Role.BILLING_CLERK, unit=world.bureau_a)
    before = snapshot(world)
    with pytest.raises(ValidationError) as exc:
        payment_reverse(actor=Actor(user=clerk), payment=p2, reason="退票")
    assert "10.00" in exc.value.messages[0]
    assert snapshot(world) == before
    assert Payment.objects.get(pk=p2.pk).status == "posted"
