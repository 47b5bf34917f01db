"""Late-fee waivers: requested by a billing clerk, approved by a manager, audited; the fee really goes."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import LedgerEntry, Receivable
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal


@pytest.fixture
def setup(world):
    clerk = UserFactory(username="a_billing2", role=Role.BILLING_CLERK, unit=world.bureau_a)
    bill = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    return clerk, Receivable.objects.get(bill=bill)


def test_approved_waiver_removes_the_fee(world, setup):
    clerk, r = setup
    # 10 October: 20 days late on 100.00 → 100 × 0.001 × 20 = 2.00 owed
    w = services.waiver_request(
        actor=Actor(user=clerk),
        receivable=r,
        amount="2.00",
        reason="系统故障导致未收到账单",
        on=date(2026, 10, 10),
    )
    assert selectors.statement(world.acct_a, date(2026, 10, 10)).late_fee == D("2.00")  # pending: still owed
    services.waiver_decide(actor=Actor(user=world.a_manager), waiver=w, approve=True, on=date(2026, 10, 10))
    r.refresh_from_db()
    assert (r.fee_charged, r.fee_waived, r.fee_through) == (D("2.00"), D("2.00"), date(2026, 10, 10))
    assert selectors.statement(world.acct_a, date(2026, 10, 10)).late_fee == D("0.00")
    # +100.00 bill +2.00 fee −2.00 waiver
    assert selectors.ledger_balance(world.acct_a.pk) == D("100.00")
    assert LedgerEntry.objects.get(kind="waiver").amount == D("-2.00")
    # The fee keeps accruing after the waiver: 10 more days → 100 × 0.001 × 10 = 1.00 (the bill's fee,
    # 2.00 + 1.00, is over the 1.00 minimum: no shortfall)
    assert selectors.statement(world.acct_a, date(2026, 10, 20)).late_fee == D("1.00")
    actions = list(
        AuditEvent.objects.filter(action__startswith="fee_waiver").values_list("action", "actor__username")
    )
    assert actions == [("fee_waiver.approve", "a_manager"), ("fee_waiver.request", "a_billing2")]


def test_waiver_rules(world, setup):
    clerk, r = setup
    with pytest.raises(ValidationError) as exc:  # more than the 2.00 owed on 10 October
        services.waiver_request(
            actor=Actor(user=clerk), receivable=r, amount="2.01", reason="x", on=date(2026, 10, 10)
        )
    assert "amount" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.waiver_request(
            actor=Actor(user=clerk), receivable=r, amount="1.00", reason=" ", on=date(2026, 10, 10)
        )
    w = services.waiver_request(
        actor=Actor(user=clerk), receivable=r, amount="1.00", reason="x", on=date(2026, 10, 10)
    )
    with pytest.raises(PermissionDenied):  # a billing clerk cannot approve
        services.waiver_decide(actor=Actor(user=clerk), waiver=w, approve=True)
    with pytest.raises(PermissionDenied):  # a manager of the other bureau cannot either
        b_manager = UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)
        services.waiver_decide(actor=Actor(user=b_manager), waiver=w, approve=True)
    services.waiver_decide(actor=Actor(user=world.a_manager), waiver=w, approve=False)
    r.refresh_from_db()
    assert r.fee_waived == D("0.00") and not LedgerEntry.objects.filter(kind="waiver").exists()
    with pytest.raises(Conflict, match=f"已被{world.a_manager.display_name}审批"):  # already decided
        services.waiver_decide(actor=Actor(user=world.a_manager), waiver=w, approve=True)
